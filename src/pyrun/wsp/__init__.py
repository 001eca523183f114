"""WSP, the workflow server protocol: JSON-RPC 2.0 over stdio between tools (editors, CLIs,
agents) and a workflow tool that manages a project's environments.

Modules: :mod:`~pyrun.wsp.framing` (Content-Length frames), :mod:`~pyrun.wsp.jsonrpc`
(messages, errors, the lifecycle and dispatch), :mod:`~pyrun.wsp.server` (pyrun's own server),
:mod:`~pyrun.wsp.client` (talking to any server), :mod:`~pyrun.wsp.declaration` (finding and
trusting a project's ``[workflow] wsp``). From pyrun they use only the engine's public API
(:mod:`pyrun.engine`, :mod:`pyrun.errors`, :mod:`pyrun.script.pythonenvs`). Protocol notes: docs/wsp.md.
"""

PROTOCOL_VERSION = "0.1.0"
