"""A griffe extension: a function decorated ``@functools.wraps(f)`` documents as ``f``.

``jg.simulate`` and ``jg.simulate_rounds`` are thin checks in front of a jitted
``_..._compiled`` function that carries the docstring and the full signature;
``functools.wraps`` copies both at run time, but griffe reads the source, so
without this extension the reference would show an undocumented wrapper whose
docstring (had it one) names parameters its signature lacks.
"""

from __future__ import annotations

import griffe


class FunctoolsWraps(griffe.Extension):
    """Copies docstring, parameters and return annotation from the wrapped function."""

    def on_function_instance(self, *, func: griffe.Function, **kwargs) -> None:
        for decorator in func.decorators:
            call = decorator.value
            if not isinstance(call, griffe.ExprCall) or not call.arguments:
                continue
            if str(call.function) not in ("functools.wraps", "wraps"):
                continue
            wrapped = func.parent.members.get(str(call.arguments[0])) if func.parent else None
            if isinstance(wrapped, griffe.Function) and wrapped.docstring is not None:
                func.docstring = griffe.Docstring(
                    wrapped.docstring.value,
                    lineno=wrapped.docstring.lineno,
                    endlineno=wrapped.docstring.endlineno,
                    parent=func,
                    parser=wrapped.docstring.parser,
                    parser_options=wrapped.docstring.parser_options,
                )
                func.parameters = wrapped.parameters
                func.returns = wrapped.returns
