"""The local AWS server: moto's server, in its own process, with the project's fidelity layer.

Run with ``python -m albrules.local.server --port 4566`` (``albrules local up`` does this in
the background). Besides the AWS APIs it answers, under ``/_albrules/``:

- ``GET health`` - ``{"ok": true}`` once ready;
- ``GET|POST|DELETE faults`` - list, add (``{"operation": "CreateRule", "nth": 3, ...}``) or
  clear injected ELBv2 faults;
- ``GET|POST config`` - read or set ``{"rules_per_load_balancer": N}`` and
  ``{"throttle_mutating": RATE}`` (mutating ELBv2 calls a second, ``null`` for off; optional
  ``"throttle_burst"``: :mod:`albrules.local.throttle`);
- ``GET notifications`` - what the SNS topics published (:mod:`albrules.local.inbox`);
- ``POST cloudtrail/drain`` (``{"timeout": 10}``) - wait until the CloudTrail events queued
  so far are delivered to EventBridge (:func:`albrules.local.cloudtrail.drain`);
- ``function-urls/<region>/<function>/...`` - the function's Lambda function URL
  (:mod:`albrules.local.function_urls`; ``albrules local deploy`` gives URLs this address).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Any

ADMIN_PREFIX = "/_albrules/"


class Admin:
    """WSGI middleware: the project's admin endpoints in front of moto's application."""

    def __init__(self, app: Any):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(ADMIN_PREFIX):
            return self.app(environ, start_response)
        from . import function_urls

        if path.startswith(function_urls.PREFIX):  # Lambda function URLs, served here
            return function_urls.app(environ, start_response)
        from . import elbv2, faults, inbox

        method = environ.get("REQUEST_METHOD", "GET")
        body: Any = None
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                body = json.loads(environ["wsgi.input"].read(length) or b"{}")
            except json.JSONDecodeError:
                return _reply(start_response, 400, {"error": "body must be JSON"})
        name = path[len(ADMIN_PREFIX) :].strip("/")
        if name == "health":
            return _reply(start_response, 200, {"ok": True, "pid": os.getpid()})
        if name == "faults":
            if method == "POST":
                try:
                    fault = faults.inject(**body)
                except TypeError as err:
                    return _reply(start_response, 400, {"error": str(err)})
                return _reply(start_response, 200, {"added": fault.__dict__})
            if method == "DELETE":
                faults.clear()
            return _reply(start_response, 200, {"faults": faults.listing()})
        if name == "config":
            from . import throttle

            if method == "POST":
                body = dict(body or {})
                if "throttle_mutating" in body:
                    try:
                        throttle.set_mutating_rate(
                            body.pop("throttle_mutating"), body.pop("throttle_burst", None)
                        )
                    except (TypeError, ValueError) as err:
                        return _reply(start_response, 400, {"error": str(err)})
                for key, value in body.items():
                    if key not in elbv2.CONFIG or not isinstance(value, int):
                        return _reply(start_response, 400, {"error": f"unknown setting {key}"})
                    elbv2.CONFIG[key] = value
            return _reply(start_response, 200, {**elbv2.CONFIG, **throttle.settings()})
        if name == "notifications":
            return _reply(start_response, 200, {"notifications": inbox.sent()})
        if name == "cloudtrail/drain" and method == "POST":
            from . import cloudtrail

            timeout = (body or {}).get("timeout", 10)
            if not isinstance(timeout, int | float) or not 0 <= timeout <= 300:
                return _reply(start_response, 400, {"error": "timeout must be 0 to 300 seconds"})
            return _reply(start_response, 200, {"drained": cloudtrail.drain(float(timeout))})
        return _reply(start_response, 404, {"error": f"no such endpoint {path}"})


def _reply(start_response: Any, status: int, payload: Any) -> list[bytes]:
    data = json.dumps(payload).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]


def make_app() -> Any:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from . import install

    install()
    return Admin(DomainDispatcherApplication(create_backend_app))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="albrules local AWS (moto + fidelity layer)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    rules = os.environ.get("ALBRULES_LOCAL_RULES_PER_LB", "")
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import run_simple

    app = make_app()
    from . import lambdas

    lambdas.configure_server(args.port, args.host)  # run state machines and our functions
    if rules.isdigit():
        from . import elbv2

        elbv2.CONFIG["rules_per_load_balancer"] = int(rules)
    rate = os.environ.get("ALBRULES_LOCAL_THROTTLE_MUTATING", "")
    if rate:
        from . import throttle

        throttle.set_mutating_rate(float(rate))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
