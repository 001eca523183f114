"""WSP, the workflow server protocol: JSON-RPC 2.0 over stdio between tools (editors, CLIs,
agents) and a workflow tool that manages a project's environments. Protocol notes: docs/wsp.md.

The modules, in the order a request flows through a server:

* :mod:`~pyrun.wsp.framing`: Content-Length frames on a byte stream;
* :mod:`~pyrun.wsp.jsonrpc`: JSON-RPC messages, the error codes and WSP's error classes;
* :mod:`~pyrun.wsp.endpoint`: the lifecycle, dispatch, batches, workers and cancellation;
  :mod:`~pyrun.wsp.request` (one request being answered: ``current()``);
* :mod:`~pyrun.wsp.params`: a method's params checked into a typed request, in one place;
  :mod:`~pyrun.wsp.typed` (dataclass params and results, element by element);
* :mod:`~pyrun.wsp.base`: the generic server, a table of methods (the toolkit's ``Server``);
  :mod:`~pyrun.wsp.workdone` (work-done progress), :mod:`~pyrun.wsp.testing` (an in-memory
  client), :mod:`~pyrun.wsp.scaffold` (``pyrun wsp init``'s workflow script);
* :mod:`~pyrun.wsp.store`: the store interface and the environment methods over any store;
  :mod:`~pyrun.wsp.environment` (an environment's description),
  :mod:`~pyrun.wsp.processes` (``execute``), :mod:`~pyrun.wsp.venvs` (``create``);
* the stores: :mod:`~pyrun.wsp.project` (a project's ``.venv`` and ``.python-envs``) and
  :mod:`~pyrun.wsp.folder` (the toolkit's venvs in a folder);
* the servers: :mod:`~pyrun.wsp.server` (pyrun's own, ``pyrun wsp serve``) and
  :mod:`~pyrun.wsp.toolkit` (the face single-file workflow scripts import);
* the other side: :mod:`~pyrun.wsp.client` (talking to any server) and
  :mod:`~pyrun.wsp.declaration` (finding and trusting a project's ``[workflow] wsp``).

From pyrun they use only the public API (:mod:`pyrun.engine`, :mod:`pyrun.errors`,
:mod:`pyrun.script.pythonenvs`).
"""

PROTOCOL_VERSION = "0.1.0"
