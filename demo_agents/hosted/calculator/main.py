"""Calculator Agent (seed 002): one operation over a list of numbers.

    {"operation": "add", "numbers": [1, 2, 3]}
    -> {"operation": "add", "numbers": [1, 2, 3], "result": 6, "agent_type": "calculator"}

Operations: add, subtract (the first minus the rest), multiply, divide (the first divided by
the rest), average. Whole numbers stay whole; other results are rounded to the hiring's
`precision` (default 4 decimal places). Bad input raises ValueError with the reason, e.g.
division by zero.
"""

import math

OPERATIONS = ("add", "subtract", "multiply", "divide", "average")
MAX_NUMBERS = 10_000
DEFAULT_PRECISION = 4


class CalculatorAgent:
    def __init__(self, config=None):
        config = config or {}
        precision = config.get("precision", DEFAULT_PRECISION)
        if isinstance(precision, bool) or not isinstance(precision, int) or not 0 <= precision <= 12:
            raise ValueError("'precision' must be a whole number from 0 to 12.")
        self.precision = precision

    def run(self, input):
        if not isinstance(input, dict):
            raise ValueError('The input must be an object like {"operation": "add", "numbers": [1, 2, 3]}.')
        operation = input.get("operation")
        if operation not in OPERATIONS:
            raise ValueError(f"'operation' must be one of {', '.join(OPERATIONS)}; got {operation!r}.")
        numbers = input.get("numbers")
        if not isinstance(numbers, list) or not numbers:
            raise ValueError("'numbers' must be a non-empty list of numbers.")
        if len(numbers) > MAX_NUMBERS:
            raise ValueError(f"'numbers' may hold at most {MAX_NUMBERS} numbers.")
        for position, number in enumerate(numbers):
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
                raise ValueError(f"numbers[{position}] is not a finite number: {number!r}.")
        if operation in ("subtract", "divide") and len(numbers) < 2:
            raise ValueError(f"'{operation}' needs at least two numbers.")
        return {
            "operation": operation,
            "numbers": numbers,
            "result": self._tidy(getattr(self, f"_{operation}")(numbers)),
            "agent_type": "calculator",
        }

    @staticmethod
    def _add(numbers):
        return math.fsum(numbers) if any(isinstance(n, float) for n in numbers) else sum(numbers)

    @staticmethod
    def _subtract(numbers):
        first, rest = numbers[0], numbers[1:]
        return first - CalculatorAgent._add(rest)

    @staticmethod
    def _multiply(numbers):
        return math.prod(numbers)

    @staticmethod
    def _divide(numbers):
        result = numbers[0]
        for divisor in numbers[1:]:
            if divisor == 0:
                raise ValueError("Cannot divide by zero.")
            result = result / divisor
        return result

    @staticmethod
    def _average(numbers):
        return CalculatorAgent._add(numbers) / len(numbers)

    def _tidy(self, result):
        if isinstance(result, float):
            if not math.isfinite(result):
                raise ValueError("The result is too large to represent.")
            if result.is_integer() and abs(result) < 2**53:
                return int(result)
            return round(result, self.precision)
        if isinstance(result, int) and abs(result) > 10**300:
            raise ValueError("The result is too large to represent.")
        return result
