"""A Distributed Map's ``ItemBatcher`` and Express child executions, as AWS documents them.

moto 5.2.5's ASL grammar has neither: a definition with ``ItemBatcher`` on a Map, or with
``"ExecutionType": "EXPRESS"`` in a Distributed Map's ``ProcessorConfig``, fails
CreateStateMachine with an ASLParserException, where AWS accepts both. Here the parser is given
the definition without them (Express becomes Standard, the only kind moto knows), and they are
put back on the parsed Map states:

- With an ``ItemBatcher``, each child execution gets ``{"Items": [...]}`` (and ``"BatchInput"``
  when the batcher gives one), at most ``MaxItemsPerBatch`` (or ``MaxItemsPerBatchPath``, a
  reference path into the Map state's input) items, and at most ``MaxInputBytesPerBatch`` (or
  its ``Path``) bytes of JSON (AWS's cap: 256 KiB) (Step Functions developer guide, "ItemBatcher
  (Map)"). The Map Run's item counts count items, its execution counts child executions.
- Express children run as moto runs Standard ones. What AWS does differently for them (no
  execution history, at most 5 minutes, at-least-once) is not modelled.

Not confirmed against AWS: how ``ItemSelector`` combines with an ``ItemBatcher`` (here moto
applies it to each batch); the albrules backup machine uses no ItemSelector on its batched Map.
"""

from __future__ import annotations

import copy
import json
from typing import Any

PAYLOAD_LIMIT = 256 * 1024
BATCHER_KEYS = frozenset(
    {
        "MaxItemsPerBatch",
        "MaxItemsPerBatchPath",
        "MaxInputBytesPerBatch",
        "MaxInputBytesPerBatchPath",
        "BatchInput",
    }
)
_ATTRIBUTE = "_albrules_item_batcher"
_installed = False


class BatcherInvalid(ValueError):
    """An ItemBatcher AWS would refuse."""


class Batch(dict[str, Any]):
    """A child execution's input made by a batcher (a plain JSON object, marked as a batch)."""


# --- the definition -----------------------------------------------------------------------------


def check_batcher(name: str, batcher: Any) -> None:
    """Refuse an ItemBatcher as AWS documents its fields (one clear sentence)."""
    where = f"the ItemBatcher of Map state {name!r}"
    if not isinstance(batcher, dict):
        raise BatcherInvalid(f"{where} must be an object")
    unknown = set(batcher) - BATCHER_KEYS
    if unknown:
        raise BatcherInvalid(f"{where} has unknown field(s) {', '.join(sorted(unknown))}")
    for field in ("MaxItemsPerBatch", "MaxInputBytesPerBatch"):
        if field in batcher and f"{field}Path" in batcher:
            raise BatcherInvalid(f"{where} has both {field} and {field}Path; give one")
        value = batcher.get(field)
        bad = not isinstance(value, int) or isinstance(value, bool) or value < 1
        if value is not None and bad:
            raise BatcherInvalid(f"{where}: {field} must be a positive integer")
        path = batcher.get(f"{field}Path")
        if path is not None and (not isinstance(path, str) or not path.startswith("$")):
            raise BatcherInvalid(f"{where}: {field}Path must be a reference path ($...)")
    if not any(k in batcher for k in BATCHER_KEYS - {"BatchInput"}):
        raise BatcherInvalid(
            f"{where} needs MaxItemsPerBatch, MaxInputBytesPerBatch or one of their Paths"
        )
    if "BatchInput" in batcher and not isinstance(batcher["BatchInput"], dict):
        raise BatcherInvalid(f"{where}: BatchInput must be an object")


def strip(definition: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """The definition without ItemBatcher and with Express children as Standard, and the
    batchers by Map state name (names are unique in a whole state machine)."""
    try:
        document = json.loads(definition)
    except (TypeError, ValueError):
        return definition, {}
    if not isinstance(document, dict):
        return definition, {}
    document = copy.deepcopy(document)
    batchers: dict[str, dict[str, Any]] = {}
    changed = _strip_states(document.get("States"), batchers)
    return (json.dumps(document) if changed else definition), batchers


def _strip_states(states: Any, batchers: dict[str, dict[str, Any]]) -> bool:
    changed = False
    if not isinstance(states, dict):
        return False
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        if state.get("Type") == "Map":
            if "ItemBatcher" in state:
                batcher = state.pop("ItemBatcher")
                check_batcher(name, batcher)
                batchers[name] = batcher
                changed = True
            processor = state.get("ItemProcessor") or state.get("Iterator") or {}
            config = processor.get("ProcessorConfig") if isinstance(processor, dict) else None
            if isinstance(config, dict) and config.get("ExecutionType") == "EXPRESS":
                config["ExecutionType"] = "STANDARD"
                changed = True
            if isinstance(processor, dict):
                changed = _strip_states(processor.get("States"), batchers) or changed
        for branch in state.get("Branches") or []:
            if isinstance(branch, dict):
                changed = _strip_states(branch.get("States"), batchers) or changed
    return changed


def _attach(program: Any, batchers: dict[str, dict[str, Any]]) -> None:
    """Put each batcher on its parsed Map state's iteration component."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap

    seen: set[int] = set()
    todo = [program]
    while todo:
        node = todo.pop()
        if id(node) in seen or not hasattr(node, "__dict__"):
            continue
        seen.add(id(node))
        if isinstance(node, StateMap) and node.name in batchers:
            setattr(node.iteration_component, _ATTRIBUTE, batchers[node.name])
        for value in vars(node).values():
            if isinstance(value, dict):
                todo.extend(value.values())
            elif isinstance(value, list | tuple):
                todo.extend(value)
            elif type(value).__module__.startswith("moto.stepfunctions.parser"):
                todo.append(value)


# --- the batches --------------------------------------------------------------------------------


def _reference(path: str, data: Any, context: Any) -> Any:
    """A reference path (``$.a.b``, ``$$.Execution.Id``): the dotted subset AWS allows there."""
    root, rest = (context, path[2:]) if path.startswith("$$") else (data, path[1:])
    value = root
    for part in [p for p in rest.split(".") if p]:
        if not isinstance(value, dict) or part not in value:
            raise BatcherInvalid(f"the path {path} is not in the Map state's input")
        value = value[part]
    return value


def _evaluate(template: Any, data: Any, context: Any) -> Any:
    """A payload template: keys ending in ``.$`` take the value their path names."""
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if key.endswith(".$") and isinstance(value, str):
                out[key[:-2]] = _reference(value, data, context)
            else:
                out[key] = _evaluate(value, data, context)
        return out
    if isinstance(template, list):
        return [_evaluate(v, data, context) for v in template]
    return template


def _limit(batcher: dict[str, Any], field: str, data: Any, context: Any) -> int | None:
    if field in batcher:
        return int(batcher[field])
    path = batcher.get(f"{field}Path")
    if path is None:
        return None
    value = _reference(path, data, context)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BatcherInvalid(f"{field}Path {path} must name a positive integer, not {value!r}")
    return value


def batches(items: list[Any], batcher: dict[str, Any], data: Any, context: Any) -> list[Any]:
    """The child executions' inputs: the items in batches, in order."""
    most = _limit(batcher, "MaxItemsPerBatch", data, context)
    size_cap = min(
        _limit(batcher, "MaxInputBytesPerBatch", data, context) or PAYLOAD_LIMIT, PAYLOAD_LIMIT
    )
    extra = {}
    if "BatchInput" in batcher:
        extra["BatchInput"] = _evaluate(batcher["BatchInput"], data, context)
    base = len(json.dumps({**extra, "Items": []}))
    out: list[Any] = []
    batch: list[Any] = []
    size = base
    for item in items:
        grown = size + len(json.dumps(item)) + (1 if batch else 0)
        if batch and ((most is not None and len(batch) >= most) or grown > size_cap):
            out.append({**extra, "Items": batch})
            batch, size = [], base
            grown = size + len(json.dumps(item))
        batch.append(item)
        size = grown
    if batch:
        out.append({**extra, "Items": batch})
    return [Batch(b) for b in out]


# --- counting items ----------------------------------------------------------------------------


class _ScaledField:
    def __init__(self, field: Any, factor: int):
        self._field, self._factor = field, factor

    def count(self, increment: int = 1) -> None:
        self._field.count(increment * self._factor)

    def offset(self, offset: int) -> None:
        self._field.offset(offset * self._factor)

    def get(self) -> int:
        return int(self._field.get())


class _ScaledCounter:
    def __init__(self, counter: Any, factor: int):
        self._counter, self._factor = counter, factor

    def __getattr__(self, name: str) -> Any:
        return _ScaledField(getattr(self._counter, name), self._factor)


class _ScaledRecord:
    """A Map Run record whose item counter counts ``factor`` items per call."""

    def __init__(self, record: Any, factor: int):
        self._record = record
        self.item_counter = _ScaledCounter(record.item_counter, factor)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._record, name)


# --- installing --------------------------------------------------------------------------------


def install() -> None:
    """Patch moto's parser, Distributed Map run and child worker (idempotent)."""
    global _installed
    if _installed:
        return
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as distributed,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (  # noqa: E501
        distributed_item_processor_worker as worker,
    )
    from moto.stepfunctions.parser.asl.parse import asl_parser

    parser = asl_parser.AmazonStateLanguageParser
    original_parse = parser.parse

    def parse(definition: str) -> Any:
        try:
            stripped, found = strip(definition)
        except BatcherInvalid as err:
            raise asl_parser.ASLParserException(errors=[str(err)]) from None
        program, tree = original_parse(stripped)
        if found:
            _attach(program, found)
        return program, tree

    parser.parse = staticmethod(parse)  # type: ignore[method-assign]

    component = distributed.DistributedIterationComponent
    original_run = component._map_run

    def map_run(self: Any, env: Any, eval_input: Any) -> None:
        batcher = getattr(self, _ATTRIBUTE, None)
        if batcher is not None:
            items = env.stack.pop()
            context = env.states.context_object.context_object_data
            env.stack.append(batches(list(items or []), batcher, env.states.get_input(), context))
        original_run(self, env, eval_input)

    component._map_run = map_run  # type: ignore[method-assign]

    processor_worker = worker.DistributedItemProcessorWorker
    original_job = processor_worker._eval_job

    def eval_job(self: Any, env: Any, job: Any) -> None:
        """Item counts count the items of a batch, not the batch (a worker runs one job at a
        time, so its record is swapped for one that scales item counts, for this job)."""
        given = job.job_input
        if not isinstance(given, Batch):
            return original_job(self, env, job)
        record = self._map_run_record
        self._map_run_record = _ScaledRecord(record, len(given.get("Items") or []))
        try:
            return original_job(self, env, job)
        finally:
            self._map_run_record = record

    processor_worker._eval_job = eval_job  # type: ignore[method-assign]

    _installed = True
