"""The block registry: every block the search may place, built-in or user-defined.

A block declares which tensor kinds it accepts and which it produces, and its
arguments with their allowed values and defaults (the search space samples
from these). Tensor kinds, with the batch axis omitted:

- ``image``: ``[H, W, C]`` (2-D feature maps),
- ``sequence``: ``[T, C]`` (1-D feature maps: time series, spectrogram frames),
- ``flat``: ``[D]`` (a feature vector).

A block's builder takes the incoming Keras tensor and the block's (resolved)
arguments as keyword arguments and returns the outgoing tensor. Builders name
every layer they create (``conv_a``, ``bn_a`` ...); the model builder wraps
each block in a sub-model named after its position and name
(``b02_resnet1d``), so a layer is found again as ``b02_resnet1d/conv_a``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Mapping

from search_algo.errors import SearchSpaceError

TENSOR_KINDS = ("image", "sequence", "flat")

# A builder: (inputs, **args) -> outputs, all Keras tensors.
BlockBuilder = Callable[..., Any]


@dataclasses.dataclass(frozen=True)
class ArgSpec:
    """One block argument: its default and what values it may take.

    Either ``choices`` (a finite set; booleans are ``(False, True)``) or a
    numeric range ``[low, high]`` whose type is the default's type (int or
    float); ``log`` samples a float range log-uniformly.
    """

    default: Any
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    help: str = ""

    def __post_init__(self) -> None:
        if self.choices is not None:
            object.__setattr__(self, "choices", tuple(self.choices))
            if not self.choices:
                raise ValueError("choices must not be empty")
            if self.low is not None or self.high is not None:
                raise ValueError("give either choices or low/high, not both")
            if self.default not in self.choices:
                raise ValueError(f"default {self.default!r} is not one of {self.choices}")
        else:
            if self.low is None or self.high is None:
                raise ValueError("give choices or both low and high")
            if not isinstance(self.default, (int, float)) or isinstance(self.default, bool):
                raise ValueError("a range argument needs a numeric default")
            if not self.low <= self.default <= self.high:
                raise ValueError(f"default {self.default!r} is outside [{self.low}, {self.high}]")
            if self.log and self.low <= 0:
                raise ValueError("a log range needs low > 0")

    @property
    def is_choice(self) -> bool:
        return self.choices is not None

    @property
    def value_type(self) -> type:
        return type(self.default)

    def check(self, value: Any) -> str | None:
        """Returns why `value` is not allowed, or None if it is."""
        if self.is_choice:
            if _matching_choice(self.choices, value) is not _NO_MATCH:
                return None
            return f"must be one of {list(self.choices)}, got {value!r}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number in [{self.low}, {self.high}], got {value!r}"
        if self.value_type is int and not float(value).is_integer():
            return f"must be an integer in [{self.low}, {self.high}], got {value!r}"
        if not self.low <= value <= self.high:
            return f"must be in [{self.low}, {self.high}], got {value!r}"
        return None

    def coerce(self, value: Any) -> Any:
        """The canonical form of an allowed value (ints stay ints: 2.0 -> 2)."""
        if self.is_choice:
            return _matching_choice(self.choices, value)
        if self.value_type is int:
            return int(value)
        return float(value)

    def sample(self, rng) -> Any:
        """A random allowed value from a numpy Generator."""
        if self.is_choice:
            return self.choices[int(rng.integers(len(self.choices)))]
        if self.value_type is int:
            return int(rng.integers(int(self.low), int(self.high) + 1))
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        # Rounded so that sampled architectures have short, stable JSON.
        return float(f"{value:.4g}")

    def describe(self) -> dict[str, Any]:
        data: dict[str, Any] = {"default": self.default}
        if self.is_choice:
            data["choices"] = list(self.choices)
        else:
            data.update(low=self.low, high=self.high, log=self.log)
        if self.help:
            data["help"] = self.help
        return data

    @classmethod
    def from_any(cls, spec: Any) -> "ArgSpec":
        """Accepts an ArgSpec or its dict form (what `describe` returns)."""
        if isinstance(spec, ArgSpec):
            return spec
        if isinstance(spec, Mapping):
            return cls(**dict(spec))
        raise TypeError(f"an argument spec must be an ArgSpec or a dict, got {spec!r}")


_NO_MATCH = object()


def _matching_choice(choices: tuple, value: Any) -> Any:
    """The choice equal to `value`, or _NO_MATCH.

    `True == 1` in Python, so booleans only match booleans; an int matches an
    equal float choice (YAML writes 0 for 0.0).
    """
    for choice in choices:
        if isinstance(choice, bool) != isinstance(value, bool):
            continue
        if type(choice) is not type(value) and not (
            isinstance(choice, (int, float)) and isinstance(value, (int, float))
        ):
            continue
        if choice == value:
            return choice
    return _NO_MATCH


@dataclasses.dataclass(frozen=True)
class BlockDef:
    name: str
    input_kinds: tuple[str, ...]
    output_kind: str  # a tensor kind, or "same" (whatever kind came in)
    args: Mapping[str, ArgSpec]
    build: BlockBuilder
    description: str = ""
    builtin: bool = True
    source: str = ""  # the user's module file, for custom blocks

    def output_kind_for(self, input_kind: str) -> str:
        return input_kind if self.output_kind == "same" else self.output_kind

    def resolve_args(self, args: Mapping[str, Any], where: str) -> dict[str, Any]:
        """Fills defaults and checks every value; `where` names the block in errors."""
        unknown = sorted(set(args) - set(self.args))
        if unknown:
            raise SearchSpaceError(
                f"{where}: unknown argument(s) {unknown}; "
                f"'{self.name}' takes {sorted(self.args) or 'no arguments'}"
            )
        resolved = {}
        for arg_name, spec in self.args.items():
            value = args.get(arg_name, spec.default)
            problem = spec.check(value)
            if problem:
                raise SearchSpaceError(f"{where}: argument '{arg_name}' {problem}")
            resolved[arg_name] = spec.coerce(value)
        return resolved

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_kinds": list(self.input_kinds),
            "output_kind": self.output_kind,
            "args": {name: spec.describe() for name, spec in self.args.items()},
            "description": self.description,
            "builtin": self.builtin,
            "source": self.source,
        }


_REGISTRY: dict[str, BlockDef] = {}


def register_block(
    name: str,
    *,
    input_kinds: tuple[str, ...] | list[str] | str,
    output_kind: str,
    args: Mapping[str, Any] | None = None,
    description: str = "",
    _builtin: bool = False,
):
    """Registers a block under `name`; use as a decorator.

    Decorates either a builder function ``fn(inputs, **args) -> outputs`` that
    creates named Keras layers, or a Keras ``Layer`` subclass, which is then
    built as ``LayerClass(**args, name="layer")(inputs)``. ``args`` maps each
    argument name to an `ArgSpec` or its dict form, e.g.
    ``{"units": {"default": 32, "choices": [16, 32, 64]}}``.
    ``output_kind="same"`` means the block keeps the kind it was given.
    """
    if isinstance(input_kinds, str):
        input_kinds = (input_kinds,)
    input_kinds = tuple(input_kinds)
    bad_kinds = [k for k in input_kinds if k not in TENSOR_KINDS]
    if not input_kinds or bad_kinds:
        raise SearchSpaceError(
            f"block '{name}': input_kinds must be a non-empty subset of {TENSOR_KINDS}, "
            f"got {list(input_kinds)}"
        )
    if output_kind not in TENSOR_KINDS + ("same",):
        raise SearchSpaceError(
            f"block '{name}': output_kind must be one of {TENSOR_KINDS + ('same',)}, "
            f"got {output_kind!r}"
        )
    if not name or not name.replace("_", "").isalnum() or not name[0].isalpha():
        raise SearchSpaceError(
            f"block name {name!r} must start with a letter and use only letters, digits and _"
        )
    for arg in args or {}:
        # Arguments are passed as keywords, and `name` is the layer's own.
        if not isinstance(arg, str) or not arg.isidentifier() or arg == "name":
            raise SearchSpaceError(
                f"block '{name}': argument name {arg!r} must be a Python identifier other "
                "than 'name'"
            )
    try:
        arg_specs = {arg: ArgSpec.from_any(spec) for arg, spec in (args or {}).items()}
    except (TypeError, ValueError) as error:
        raise SearchSpaceError(f"block '{name}': bad argument spec: {error}") from None

    def decorator(target):
        if not _builtin:
            # Built-ins first, so that a user block named like one is refused
            # even when the user's module is the first thing imported.
            _ensure_builtins()
        build = _layer_class_builder(target) if _is_layer_class(target) else target
        if not callable(build):
            raise SearchSpaceError(f"block '{name}': register a function or a Keras Layer class")
        existing = _REGISTRY.get(name)
        if existing is not None:
            if existing.builtin:
                raise SearchSpaceError(
                    f"block '{name}' clashes with a built-in block; choose another name"
                )
            # The same definition executed again (the module imported both by
            # path and by name, or reloaded) replaces itself; anything else clashes.
            if _builtin or not _same_definition(existing.build, build):
                raise SearchSpaceError(
                    f"block '{name}' is already registered (from {existing.source or 'code'})"
                )
        _REGISTRY[name] = BlockDef(
            name=name,
            input_kinds=input_kinds,
            output_kind=output_kind,
            args=arg_specs,
            build=build,
            description=description or _first_doc_line(target),
            builtin=_builtin,
            source="" if _builtin else _source_file(target),
        )
        return target

    return decorator


def _is_layer_class(target: Any) -> bool:
    import keras

    return isinstance(target, type) and issubclass(target, keras.layers.Layer)


def _layer_class_builder(layer_class: type) -> BlockBuilder:
    def build(inputs, **args):
        return layer_class(**args, name="layer")(inputs)

    build.__qualname__ = f"{layer_class.__module__}.{layer_class.__qualname__}"
    build.layer_class = layer_class  # type: ignore[attr-defined]
    return build


def _same_definition(old: BlockBuilder, new: BlockBuilder) -> bool:
    def key(fn):
        target = getattr(fn, "layer_class", fn)
        return (getattr(target, "__module__", None), getattr(target, "__qualname__", None))

    return key(old) == key(new)


def _first_doc_line(target: Any) -> str:
    doc = (getattr(target, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


def _source_file(target: Any) -> str:
    import inspect

    try:
        return inspect.getsourcefile(target) or ""
    except TypeError:
        return ""


def get_block(name: str, where: str | None = None) -> BlockDef:
    _ensure_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        prefix = f"{where}: " if where else ""
        raise SearchSpaceError(
            f"{prefix}unknown block '{name}'; known blocks: {', '.join(sorted(_REGISTRY))} "
            "(custom blocks need their module file loaded)"
        ) from None


def list_blocks() -> list[BlockDef]:
    """Every registered block, built-ins first, each group sorted by name."""
    _ensure_builtins()
    return sorted(_REGISTRY.values(), key=lambda b: (not b.builtin, b.name))


def unregister_block(name: str) -> None:
    """Removes a custom block (tests and interactive sessions use this)."""
    block = _REGISTRY.get(name)
    if block is not None and block.builtin:
        raise SearchSpaceError(f"block '{name}' is built in and cannot be removed")
    _REGISTRY.pop(name, None)


def _ensure_builtins() -> None:
    # Importing the built-in modules registers them; done lazily so that the
    # registry module itself never needs Keras at import time.
    from search_algo.blocks import builtin  # noqa: F401
