"""A real Agent2Agent server, built with the official `a2a-sdk`, on loopback for the a2a tests.

    with A2AServer() as agent:          # protocol 1.0 card, JSON-RPC at agent.url
        fetch_agent_card(agent.url)
    with A2AServer(protocol="0.3") as agent:   # a 0.3 card; the server speaks only message/send

The agent (`ShoutingAgent`) answers a text with the text in capitals and data with the same
data, both as an artifact; a few magic words make it fail, reject, cancel, ask for input or
raise, so each A2A task state can be seen on the wire.
"""

import asyncio
import socket
import threading
import time

import uvicorn
from a2a.helpers.proto_helpers import get_data_parts, new_data_part, new_task_from_user_message, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events.event_queue_v2 import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes
from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types.a2a_pb2 import AgentCapabilities, AgentCard, AgentInterface, AgentProvider, AgentSkill
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SKILLS = [
    {"id": "shout", "name": "Shout", "description": "Answers text in capitals.", "tags": ["text", "uppercase"]},
    {"id": "echo-data", "name": "Echo data", "description": "Answers data with the same data.", "tags": ["echo"]},
]


class ShoutingAgent(AgentExecutor):
    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        task = context.current_task or new_task_from_user_message(context.message)
        if not context.current_task:
            await event_queue.enqueue_event(task)
        updater = TaskUpdater(event_queue, task.id, task.context_id)
        text = context.get_user_input()
        say = lambda words: updater.new_agent_message([new_text_part(words)])  # noqa: E731
        if text == "please fail":
            await updater.failed(say("The shouting agent lost its voice."))
        elif text == "please reject":
            await updater.reject(say("I only shout at polite people."))
        elif text == "please cancel":
            await updater.cancel(say("Cancelled by the agent."))
        elif text == "please ask":
            await updater.requires_input(say("Shout what?"))
        elif text == "please raise":
            raise RuntimeError("the executor blew up")
        elif data := get_data_parts(context.message.parts):
            await updater.add_artifact([new_data_part(data[0])], name="echo")
            await updater.complete()
        else:
            await updater.add_artifact([new_text_part(text.upper())], name="shout")
            await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        updater = TaskUpdater(event_queue, context.task_id, context.context_id)
        await updater.cancel()


_V1_METHODS = set(JsonRpcDispatcher.METHOD_TO_MODEL)


class A2AServer:
    def __init__(self, executor: AgentExecutor | None = None, *, protocol: str = "1.0", name: str = "Shouting Agent"):
        self.executor = executor or ShoutingAgent()
        self.protocol = protocol
        self.name = name
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.rpc_url = f"{self.url}/a2a"
        self.card_url = f"{self.url}/.well-known/agent-card.json"
        self.rpc_methods: list[str] = []

    def card(self) -> AgentCard:
        return AgentCard(
            name=self.name,
            description="Answers everything in capitals. Also echoes data.",
            version="2.1",
            provider=AgentProvider(organization="Loud Labs", url="https://loud.example"),
            supported_interfaces=[AgentInterface(url=self.rpc_url, protocol_binding="JSONRPC", protocol_version="1.0")],
            capabilities=AgentCapabilities(streaming=True, push_notifications=False),
            default_input_modes=["text/plain", "application/json"],
            default_output_modes=["text/plain", "application/json"],
            skills=[AgentSkill(**skill) for skill in SKILLS],
        )

    def card_v03(self) -> dict:
        """The card as an agent built on a 0.3 SDK serves it."""
        return {
            "name": self.name,
            "description": "Answers everything in capitals. Also echoes data.",
            "url": self.rpc_url,
            "preferredTransport": "JSONRPC",
            "protocolVersion": "0.3.0",
            "version": "0.9.1",
            "capabilities": {"streaming": False, "pushNotifications": False},
            "defaultInputModes": ["text/plain"],
            "defaultOutputModes": ["text/plain"],
            "skills": SKILLS,
        }

    def _app(self) -> Starlette:
        card = self.card()
        handler = DefaultRequestHandler(agent_executor=self.executor, task_store=InMemoryTaskStore(), agent_card=card)
        dispatcher = JsonRpcDispatcher(request_handler=handler, enable_v0_3_compat=self.protocol == "0.3")

        async def rpc(request: Request):
            body = await request.json()  # Starlette keeps it: the dispatcher reads it again
            method = body.get("method") if isinstance(body, dict) else None
            self.rpc_methods.append(method)
            if self.protocol == "0.3" and method in _V1_METHODS:
                # A server on a 0.3 SDK does not know the 1.0 method names.
                return JSONResponse({"jsonrpc": "2.0", "id": body.get("id"), "error": {
                    "code": -32601, "message": "Method not found"}})
            return await dispatcher.handle_requests(request)

        if self.protocol == "0.3":
            card_routes = [Route("/.well-known/agent-card.json", lambda request: JSONResponse(self.card_v03()))]
        else:
            card_routes = create_agent_card_routes(card)
        return Starlette(routes=[*card_routes, Route("/a2a", rpc, methods=["POST"])])

    def __enter__(self) -> "A2AServer":
        config = uvicorn.Config(self._app(), log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._socket])), daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("The A2A test server did not start.")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
