"""Work the embedded local AWS did again and again though its answer never changes.

The local AWS runs in one process for a whole test session or ``albrules local up``, and makes
a great many botocore sessions (each test, each in-process Lambda invocation), requests and
Step Functions executions. Measured with cProfile on the integration tier, most of its time
went to four things that are the same every time:

- **botocore's models.** Every ``boto3.Session`` makes its own ``Loader``, whose caches live
  only as long as it does, so each session parses the service models again from JSON
  (``elbv2/…/service-2.json``, ``endpoints.json``, ``partitions.json``…). On 34 integration
  tests: 1,925 loads of 139 files, 29% of their time. :func:`share_botocore_loaders` gives
  every session the same loader for the same data path. What a loader hands out is already
  shared by every client of its session, and botocore treats it as read-only; the one thing a
  session changes on its loader is its search paths (boto3 appends its data folder), so the
  shared loader keeps each path once.
- **State machine definitions.** moto's interpreter lexes and parses the ASL with ANTLR (pure
  Python) when a machine is created and again for every execution. :func:`cache_asl_trees`
  keeps the parse tree of each definition (the last :data:`ASL_TREES` of them) and builds the
  evaluation components from it afresh each time, so no execution shares state with another.
  A definition that does not parse is never cached: its errors come from a new parse.
- **Which actions a response class has.** For every request, moto lists every function of
  the service's response class (``inspect.getmembers``) to see whether the action is one.
  :func:`look_up_actions_directly` asks the class for that one name instead.
- **A key pair for every KMS key.** moto makes an RSA-2048 private key for every KMS key it
  creates, symmetric ones too, whose key pair no KMS call may use. Each deploy of the stack
  makes two keys (45 ms each). :func:`make_unused_kms_key_pairs_lazily` makes that pair only
  if something reads it.
- **moto's default AMIs.** moto's EC2 makes thousands of AMIs, each with a snapshot and a
  volume, for each region a test's AWS touches. albrules never reads an AMI, and a load
  balancer needs only a VPC and subnets: :func:`install` turns them off
  (``MOTO_EC2_LOAD_DEFAULT_AMIS=false``) unless the environment says otherwise.

None of this changes what AWS would answer: it is how this process reads files and classes
that are the same every time.
"""

from __future__ import annotations

import functools
import inspect
import os
import threading
from typing import Any

ASL_TREES = 64  # definitions whose parse trees are kept (a session deploys a few machines)

_LOCK = threading.Lock()
_LOADERS: dict[str | None, Any] = {}
_installed: set[str] = set()


class _PathsOnce(list):  # type: ignore[type-arg]
    """A search path list that keeps each path once (boto3 appends its own per session)."""

    def append(self, path: Any) -> None:
        if path not in self:
            super().append(path)


def install() -> None:
    """All of them (idempotent). Call before moto makes its first backend."""
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    share_botocore_loaders()
    cache_asl_trees()
    look_up_actions_directly()
    make_unused_kms_key_pairs_lazily()


def share_botocore_loaders() -> None:
    """One botocore data loader per data path for every session of this process."""
    if "loaders" in _installed:
        return
    import botocore.loaders
    import botocore.session

    create = botocore.loaders.create_loader

    def shared_loader(search_path_string: str | None = None) -> Any:
        with _LOCK:
            loader = _LOADERS.get(search_path_string)
            if loader is None:
                loader = create(search_path_string)
                loader._search_paths = _PathsOnce(loader._search_paths)
                _LOADERS[search_path_string] = loader
            return loader

    botocore.session.create_loader = shared_loader  # the name session.py calls
    _installed.add("loaders")


def cache_asl_trees() -> None:
    """moto's ASL parser keeps the parse tree of each definition that parsed."""
    if "asl" in _installed:
        return
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    parse = AmazonStateLanguageParser.parse

    @functools.lru_cache(maxsize=ASL_TREES)
    def tree_of(definition: str) -> Any:
        return parse(definition)[1]  # raises on a syntax error: nothing is cached

    def cached_parse(definition: str) -> tuple[Any, Any]:
        tree = tree_of(definition)
        return Preprocessor().visit(tree), tree

    AmazonStateLanguageParser.parse = staticmethod(cached_parse)  # type: ignore[method-assign]
    _installed.add("asl")


class _FunctionNames:
    """The names of a class's functions, as ``in`` tests them: one ``getattr`` each."""

    def __init__(self, clazz: Any) -> None:
        self.clazz = clazz

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and inspect.isfunction(getattr(self.clazz, name, None))

    def __iter__(self) -> Any:
        return iter(name for name, _ in inspect.getmembers(self.clazz, inspect.isfunction))


def look_up_actions_directly() -> None:
    """moto's request dispatch asks the response class for the one action it needs."""
    if "actions" in _installed:
        return
    import moto.core.responses

    setattr(moto.core.responses, "method_names_from_class", _FunctionNames)  # noqa: B010
    _installed.add("actions")


class _KeyPairWhenUsed:
    """moto's private key of a KMS key, made the first time any attribute of it is read."""

    def __init__(self, make: Any, key_spec: str) -> None:
        self._make, self._key_spec = make, key_spec
        self._key: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._key is None:
            self._key = self._make(self._key_spec)
        return getattr(self._key, name)


def make_unused_kms_key_pairs_lazily() -> None:
    """moto's KMS makes a symmetric or HMAC key's (unusable) RSA pair only when read."""
    if "kms" in _installed:
        return
    import moto.kms.models
    from moto.kms.utils import KeySpec

    make = getattr(moto.kms.models, "generate_private_key")  # noqa: B009
    eager = set(KeySpec.rsa_key_specs()) | set(KeySpec.ecc_key_specs())

    def generate_private_key(key_spec: str) -> Any:
        if key_spec in eager:
            return make(key_spec)
        return _KeyPairWhenUsed(make, key_spec)

    setattr(moto.kms.models, "generate_private_key", generate_private_key)  # noqa: B010
    _installed.add("kms")
