"""The agent's side for booth tests: a logged-in console socket plus a real aiortc peer.

Reuses the call layer's ``AgentPeer`` (tests/kiosk/call/callkit.py) and the
switchboard's protocol clients; works with a ``RunningServer`` or, in a scenario
subprocess, with :func:`server_from_ctx`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent / "call"))

from callkit import AgentPeer
from fixtures.clients import ProtocolClient, agent

from guichet import wire


def server_ctx(server: Any, booth: str = "booth-1") -> dict[str, Any]:
    """What a scenario subprocess needs to reach a RunningServer."""
    return {
        "server_url": server.base_url,
        "token": server.booth_tokens[booth],
        "_ws_url": server.ws_url,
        "_agent_passwords": server.agent_passwords,
        "_other_booth_token": next(t for n, t in server.booth_tokens.items() if n != booth),
    }


def server_from_ctx(ctx: dict[str, Any]) -> Any:
    """A stand-in for RunningServer with what ``fixtures.clients.agent`` reads."""
    return SimpleNamespace(
        base_url=ctx["server_url"], ws_url=ctx["_ws_url"], agent_passwords=ctx["_agent_passwords"]
    )


def booth_settings_ctx(ctx: dict[str, Any]) -> dict[str, Any]:
    """``ctx`` without the keys that are not BoothSettings fields."""
    return {k: v for k, v in ctx.items() if not k.startswith("_")}


async def other_booth_joins(ctx: dict[str, Any], service_id: str) -> ProtocolClient:
    """Another booth (booth-2) queues first, so the booth under test is second."""
    client = ProtocolClient(await websockets.connect(f"{ctx['_ws_url']}/ws/booth"))
    await client.send("hello", token=ctx["_other_booth_token"], app_version="test")
    await client.next("welcome")
    await client.send("join_queue", service_id=service_id, language="fr")
    await client.next("queued")
    return client


@dataclass
class AgentCall:
    console: ProtocolClient
    peer: AgentPeer
    call_id: str

    async def hang_up(self) -> None:
        """Hang up as the console does: signaling hangup, then close the peer."""
        await self.console.send("hangup", call_id=self.call_id)
        await self.peer.close()

    async def close(self) -> None:
        await self.peer.close()
        await self.console.close()


async def agent_console(server: Any, username: str = "alice") -> ProtocolClient:
    """A logged-in agent console socket."""
    return await agent(server, username)


async def answer_next(console: ProtocolClient, timeout: float = 15.0) -> AgentCall:
    """Take the next citizen and answer the booth's offer with a real peer."""
    await console.send("answer_next")
    assigned = await console.next("call_assigned", timeout=timeout)
    offer = await console.next("offer", timeout=timeout)
    peer = AgentPeer()
    answer = await peer.answer(wire.SessionDescription(**offer["description"]))
    await console.send("answer", call_id=assigned["call_id"], description=answer.model_dump())
    return AgentCall(console, peer, assigned["call_id"])
