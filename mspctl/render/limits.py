"""Time and size limits on one render (``[render]`` settings), for every template.

NetBox config templates are written by anyone with NetBox write access: a nested loop must not
hold a run for minutes, nor a string multiplication fill its memory. A timer thread cannot stop
a render in pure Python, so the checks run inside it:

- the code generator wraps the iterable of every ``{% for %}``: each loop counts its steps
  against ``max_loop_iterations`` (all loops of the render together) and checks the deadline;
- every ``~`` concatenation and filter result, and in the sandbox every call and ``* + % **``
  result, is refused above ``max_output_bytes``; repeat counts, padding widths, format widths
  and powers are checked before the work is done;
- in the sandbox every call (``range()`` and macros included) checks the deadline; ``range()``
  is capped like Jinja's sandbox caps it (``MAX_RANGE``);
- the rendered output is counted chunk by chunk, with the deadline checked at each chunk.

A render over a limit raises `RenderLimitError`; the engine turns it into that device's
located error (MSP-TPL-408 too long, MSP-TPL-413 too large).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from functools import wraps
from typing import Any

import jinja2
import jinja2.sandbox
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, markup_join, str_join

from mspctl.settings import RenderSettings

TOO_LONG = "MSP-TPL-408"
TOO_LARGE = "MSP-TPL-413"
_SIZED = (str, bytes, list, tuple, dict, set, frozenset)
_CHECK_EVERY = 1024  # loop steps between two looks at the clock
_PADDING = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})
# A field width or precision of 7 digits or more: `'{:>100000000}'.format(x)`, `'%0100000000d' % 1`.
_WIDE_FORMAT = re.compile(r"\{[^{}]*?\d{7,}[^{}]*\}")
_WIDE_PERCENT = re.compile(r"%[^a-zA-Z%]*?\d{7,}")


class RenderLimitError(Exception):
    """One render went over a ``[render]`` limit; `code` says which kind."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class Budget:
    """What one render may still spend: a deadline, loop steps, and the size of any one value."""

    __slots__ = ("deadline", "max_bytes", "max_steps", "steps", "timeout")

    def __init__(self, limits: RenderSettings) -> None:
        self.timeout = float(limits.template_timeout)
        self.max_bytes = int(limits.max_output_bytes)
        self.max_steps = int(limits.max_loop_iterations)
        self.deadline = time.monotonic() + self.timeout
        self.steps = 0

    def start(self) -> None:
        self.deadline = time.monotonic() + self.timeout
        self.steps = 0

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderLimitError(f"the render took longer than [render] template_timeout ({self.timeout:g} s)",
                                   TOO_LONG)

    def step(self, n: int) -> None:
        self.steps += n
        if self.steps > self.max_steps:
            raise RenderLimitError(f"the loops ran more than [render] max_loop_iterations ({self.max_steps}) steps",
                                   TOO_LONG)

    def sized[T](self, value: T) -> T:
        """`value`, unless it is a string or collection larger than ``max_output_bytes``."""
        if isinstance(value, _SIZED) and len(value) > self.max_bytes:
            self.too_large(f"a value of {len(value)} {'characters' if isinstance(value, str) else 'items'}")
        return value

    def too_large(self, what: str) -> None:
        raise RenderLimitError(f"{what} is over [render] max_output_bytes ({self.max_bytes})", TOO_LARGE)

    def check_width(self, n: object, what: str) -> None:
        if isinstance(n, int) and n > self.max_bytes:
            self.too_large(f"{what} {n}")

    def check_format(self, fmt: object, pattern: re.Pattern[str]) -> None:
        if isinstance(fmt, str) and pattern.search(fmt):
            self.too_large(f"the format {fmt[:40]!r}, whose width")

    def check_repeat(self, left: object, right: object) -> None:
        """`left * right` before it is computed: a sequence repeated, or a product of integers."""
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, _SIZED) and isinstance(n, int) and len(seq) * n > self.max_bytes:
                self.too_large(f"a value of {len(seq)} x {n}")
        if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > \
                8 * self.max_bytes:
            self.too_large("a product of integers")

    def check_power(self, left: object, right: object) -> None:
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1 \
                and left.bit_length() * right > 8 * self.max_bytes:
            self.too_large(f"the power {abs(left).bit_length()}-bit ** {right}")

    def iterate(self, iterable: Any) -> Any:
        """`iterable` as a ``{% for %}`` takes it, counted against the budget: a sized one up front
        (it stays sized, so ``loop.length`` is cheap), any other step by step."""
        self.tick()
        try:
            n = len(iterable)
        except TypeError:  # a generator (map, select ...) or an Undefined: counted as it goes
            return self._counted(iter(iterable))
        self.step(n)
        return iterable

    def _counted(self, items: Iterator[Any]) -> Iterator[Any]:
        for n, item in enumerate(items, 1):
            if n % _CHECK_EVERY == 0:
                self.step(_CHECK_EVERY)
                self.tick()
            yield item


LOOP_FILTER = "_mspctl_loop"  # Jinja allows no custom nodes: a loop's iterable goes through this filter


@jinja2.pass_context  # a context filter is never evaluated at compile time (Filter.as_const)
def _loop_filter(context: Context, iterable: Any) -> Any:
    budget: Budget = context.environment.budget  # type: ignore[attr-defined]  # a _Limits environment
    return budget.iterate(iterable)


class LimitedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with every loop's iterable and every ``~`` through the budget."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        # Before the filters are collected and symbols analysed: the wrapper is part of the tree.
        for loop in node.find_all(nodes.For):
            if not (isinstance(loop.iter, nodes.Filter) and loop.iter.name == LOOP_FILTER):
                loop.iter = nodes.Filter(loop.iter, LOOP_FILTER, [], [], None, None, lineno=loop.iter.lineno)
        super().visit_Template(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.limited_concat(context.eval_ctx, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Limits:
    """What both environments add: the budget, loops, concatenation, filters and range()."""

    budget: Budget
    filters: dict[str, Callable[..., Any]]
    globals: dict[str, Any]

    def _set_limits(self, limits: RenderSettings, range_cap: int) -> None:
        self.budget = Budget(limits)

        def capped_range(*args: int) -> range:
            numbers = range(*args)
            if len(numbers) > range_cap:
                raise RenderLimitError(f"range() of {len(numbers)} numbers is over the limit ({range_cap}: "
                                       "Jinja's sandbox cap, and at most [render] max_loop_iterations)", TOO_LONG)
            return numbers

        self.globals["range"] = capped_range
        self.filters[LOOP_FILTER] = _loop_filter

    def limit_filters(self) -> None:
        """Wrap every filter (call once the filters are registered, before any template loads)."""
        budget = self.budget
        for name, func in list(self.filters.items()):
            if name != LOOP_FILTER:
                self.filters[name] = _limited_filter(name, func, budget)

    def limited_concat(self, eval_ctx: EvalContext, parts: Iterable[Any]) -> str:
        return self.budget.sized(markup_join(parts) if eval_ctx.autoescape else str_join(parts))


def _limited_filter(name: str, func: Callable[..., Any], budget: Budget) -> Callable[..., Any]:
    if name in ("center", "indent"):
        def padded(*args: Any, **kwargs: Any) -> Any:
            for value in (*args[1:], *kwargs.values()):
                budget.check_width(value, f"the {name} width")
            return budget.sized(func(*args, **kwargs))
        return wraps(func)(padded)
    if name == "format":
        def formatted(*args: Any, **kwargs: Any) -> Any:
            budget.check_format(next((a for a in args if isinstance(a, str)), None), _WIDE_PERCENT)
            return budget.sized(func(*args, **kwargs))
        return wraps(func)(formatted)

    def limited(*args: Any, **kwargs: Any) -> Any:
        budget.tick()
        return budget.sized(func(*args, **kwargs))

    return wraps(func)(limited)  # keeps jinja_pass_arg: pass_context/pass_environment filters still get theirs


class LimitedEnvironment(_Limits, jinja2.Environment):
    """The repository's templates: trusted code, under the same loop, size and time limits."""

    code_generator_class = LimitedCodeGenerator

    def __init__(self, limits: RenderSettings, **options: Any) -> None:
        super().__init__(**options)
        self._set_limits(limits, int(limits.max_loop_iterations))


class LimitedSandbox(_Limits, jinja2.sandbox.SandboxedEnvironment):
    """NetBox config templates: Jinja's sandbox, every call and operator through the budget."""

    code_generator_class = LimitedCodeGenerator
    intercepted_binops = frozenset({"*", "+", "%", "**"})

    def __init__(self, limits: RenderSettings, **options: Any) -> None:
        super().__init__(**options)
        self._set_limits(limits, min(jinja2.sandbox.MAX_RANGE, int(limits.max_loop_iterations)))

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = self.budget
        budget.tick()
        target = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
        name = getattr(target, "__name__", "")
        if isinstance(getattr(target, "__self__", None), str):
            if name in _PADDING:
                for value in (*args, *kwargs.values()):
                    budget.check_width(value, f"the str.{name} width")
            elif name in ("format", "format_map"):
                budget.check_format(target.__self__, _WIDE_FORMAT)
        return budget.sized(super().call(context, obj, *args, **kwargs))

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = self.budget
        budget.tick()
        if operator == "*":
            budget.check_repeat(left, right)
        elif operator == "**":
            budget.check_power(left, right)
        elif operator == "%":
            budget.check_format(left, _WIDE_PERCENT)
        return budget.sized(super().call_binop(context, operator, left, right))


def render_within(template: jinja2.Template, context: dict[str, Any], budget: Budget) -> str:
    """`template` rendered with `context`, its output counted as it is produced. Raises
    RenderLimitError past a limit, or the template's own error."""
    budget.start()
    chunks = template.generate(context)
    parts: list[str] = []
    size = 0
    try:
        for chunk in chunks:
            size += len(chunk)
            if size > budget.max_bytes:
                budget.too_large("the rendered configuration")
            parts.append(chunk)
            budget.tick()
    finally:
        if isinstance(chunks, Generator):  # stopped early: end the template's own generator now
            chunks.close()
    text = "".join(parts)
    # Characters were counted; a character is up to 4 bytes in UTF-8, so only a near miss is encoded.
    if size * 4 > budget.max_bytes and len(text.encode("utf-8", "surrogatepass")) > budget.max_bytes:
        budget.too_large("the rendered configuration (in UTF-8 bytes)")
    return text
