"""Seed 002's hosted demo agents, built as packages and run through the hosted transport's sandbox."""

import hashlib
import io
import os
import re
import shutil
import zipfile

import pytest

from demo_agents import hosted
from demo_agents.hosted import PACKAGES, build_package, package_hash
from orchestration import transports
from orchestration.transports import CallRequest, Target


def call(name: str, input, config: dict | None = None) -> transports.CallResult:
    target = Target(transport="hosted", entry_point=PACKAGES[name], code_hash=package_hash(name),
                    package=lambda: build_package(name))
    return transports.call(target, CallRequest(execution_id="exec_demo", idempotency_key="exec_demo", input=input,
                                               config=config or {}, timeout=15))


def test_echo_answers_seed_002s_example():
    result = call("echo", {"message": "Hello World!", "prefix": "Echo: "})

    assert result.status == "completed"
    output = result.output
    assert output["response"] == "Echo: Hello World!"
    assert output["original_message"] == "Hello World!"
    assert output["agent_type"] == "echo"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", output["timestamp"])
    assert result.usage.cpu_seconds > 0 and result.usage.memory_bytes > 0 and result.usage.disk_bytes == 0


def test_echo_takes_its_prefix_from_the_hiring_when_the_input_has_none():
    assert call("echo", {"message": "Hi"}, {"prefix": "Custom Echo: "}).output["response"] == "Custom Echo: Hi"
    assert call("echo", {"message": "Hi"}).output["response"] == "Echo: Hi"


def test_calculator_answers_seed_002s_example():
    result = call("calculator", {"operation": "add", "numbers": [1, 2, 3]})

    assert result.status == "completed"
    assert result.output == {"operation": "add", "numbers": [1, 2, 3], "result": 6, "agent_type": "calculator"}


@pytest.mark.parametrize("operation, numbers, expected", [
    ("subtract", [10, 2, 3], 5),
    ("multiply", [2, 3, 4], 24),
    ("divide", [12, 3], 4),
    ("divide", [1, 3], 0.3333),
    ("average", [1, 2, 3, 4], 2.5),
    ("add", [0.1, 0.2], 0.3),
])
def test_calculator_does_the_other_operations(operation, numbers, expected):
    assert call("calculator", {"operation": operation, "numbers": numbers}).output["result"] == expected


def test_calculator_rounds_to_the_hirings_precision():
    assert call("calculator", {"operation": "divide", "numbers": [2, 3]}, {"precision": 2}).output["result"] == 0.67


@pytest.mark.parametrize("input, message", [
    ({"operation": "divide", "numbers": [1, 0]}, "Cannot divide by zero."),
    ({"operation": "modulo", "numbers": [1, 2]}, "'operation' must be one of add, subtract, multiply, divide, average"),
    ({"operation": "add", "numbers": []}, "'numbers' must be a non-empty list of numbers."),
    ({"operation": "add", "numbers": [1, "2"]}, "numbers[1] is not a finite number: '2'."),
    ({"operation": "subtract", "numbers": [1]}, "'subtract' needs at least two numbers."),
    ("1 + 1", "The input must be an object"),
])
def test_calculator_explains_bad_input(input, message):
    result = call("calculator", input)

    assert result.status == "failed"
    assert message in result.error


def test_text_processor_answers_seed_002s_example():
    result = call("text-processor", {"text": "Hello World", "operation": "analyze"})

    assert result.status == "completed"
    assert result.output["word_count"] == 2
    assert result.output["character_count"] == 11
    assert result.output["sentence_count"] == 1
    assert result.output["agent_type"] == "text_processor"


def test_text_processor_counts_sentences_and_frequent_words():
    text = "The cat sat. The cat ran! Did the dog see it?\nNo"
    output = call("text-processor", {"text": text}, {"top_words": 2}).output

    assert output["operation"] == "analyze"  # the default
    assert output["sentence_count"] == 4
    assert output["line_count"] == 2
    assert output["top_words"] == [{"word": "the", "count": 3}, {"word": "cat", "count": 2}]


@pytest.mark.parametrize("operation, expected", [
    ("uppercase", "HELLO WORLD"), ("lowercase", "hello world"), ("title", "Hello World"),
])
def test_text_processor_changes_case(operation, expected):
    output = call("text-processor", {"text": "hello World", "operation": operation}).output

    assert output["result"] == expected and output["original_text"] == "hello World"


def test_text_processor_explains_bad_input():
    result = call("text-processor", {"text": 42})

    assert result.status == "failed" and "'text' is required and must be a string." in result.error


def test_packages_are_byte_for_byte_reproducible(tmp_path, monkeypatch):
    built = {name: build_package(name) for name in PACKAGES}
    # The same sources elsewhere, with other timestamps and permissions: the same bytes.
    copy = tmp_path / "hosted"
    shutil.copytree(hosted.HERE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for path in copy.rglob("*.py"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
        path.chmod(0o600)
    monkeypatch.setattr(hosted, "HERE", copy)
    for name, first in built.items():
        assert build_package(name) == first
        assert package_hash(name) == hashlib.sha256(first).hexdigest()
        with zipfile.ZipFile(io.BytesIO(first)) as archive:
            assert archive.namelist() == ["main.py"]
            assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in archive.infolist())


def test_every_package_is_healthy():
    for name, entry_point in PACKAGES.items():
        target = Target(transport="hosted", entry_point=entry_point, code_hash=package_hash(name),
                        package=lambda name=name: build_package(name))
        assert transports.health(target).ok, name
