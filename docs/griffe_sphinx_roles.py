"""A griffe extension for the docs build: tbwrite's docstrings in Markdown.

tbwrite's docstrings name other objects with Sphinx roles (``:class:`~tbwrite.X```,
``:meth:`flush```) and introduce examples with ``Usage::``. mkdocstrings shows roles as
they are written; this extension rewrites them, in the docs build only (the package's own
files are not touched, and tbwrite never imports this):

- a role naming an object of the API reference becomes a link to it (an autorefs
  cross-reference marked optional, so a name that is not rendered stays plain code);
- any other role (a private module, say) becomes plain code;
- ``::`` at the end of a line becomes ``:`` (the indented block after it is already code).

Objects are looked up as Sphinx would: the name as written, then within the enclosing
class, the module, and ``tbwrite``. A name found under a private module is linked by the
public name the reference renders it under (``tbwrite.SummaryWriter.add_histogram``, not
``tbwrite._writers.histogram_methods.HistogramMethods.add_histogram``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|meth|func|mod|attr|data|exc|obj):`(~?)([\w.]+)(\(\))?`")
_ROOT = Path(__file__).resolve().parents[1]


def _dunder_all(path: Path) -> list[str]:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                assert node.value is not None
                return [e.value for e in node.value.elts]  # type: ignore[attr-defined]
    return []


def public_names() -> list[str]:
    """Every public name, dotted: ``tbwrite.__all__`` and each integration's ``__all__``."""
    names = [f"tbwrite.{n}" for n in _dunder_all(_ROOT / "tbwrite" / "__init__.py")]
    for module in sorted((_ROOT / "tbwrite" / "integrations").glob("[!_]*.py")):
        names += [f"tbwrite.integrations.{module.stem}.{n}" for n in _dunder_all(module)]
    return names


def _lookup(pkg: griffe.Module, path: str) -> Any:
    if path == pkg.path:
        return pkg
    if not path.startswith(pkg.path + "."):
        return None
    obj: Any = pkg
    for part in path[len(pkg.path) + 1 :].split("."):
        try:
            obj = obj.all_members[part] if obj.is_class else obj.members[part]
        except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None
        try:
            obj = obj.final_target if obj.is_alias else obj
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None
    return obj


class SphinxRoles(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.path != "tbwrite":
            return
        # canonical path -> the public path the reference renders it under
        public: dict[str, str] = {}
        for name in public_names():
            obj = _lookup(pkg, name)
            if obj is None:
                continue
            public.setdefault(obj.path, name)
            if obj.is_class:
                for member, value in obj.all_members.items():
                    if member.startswith("_"):
                        continue
                    try:
                        target = value.final_target if value.is_alias else value
                    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
                        continue
                    public.setdefault(target.path, f"{name}.{member}")
                    public.setdefault(f"{obj.path}.{member}", f"{name}.{member}")
        self._rewrite(pkg, pkg, public, set())

    def _rewrite(
        self, pkg: griffe.Module, obj: Any, public: dict[str, str], seen: set[str]
    ) -> None:
        if obj.is_alias or obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            obj.docstring.value = self._markdown(pkg, obj, obj.docstring.value, public)
        for member in list(obj.members.values()):
            self._rewrite(pkg, member, public, seen)

    def _markdown(self, pkg: griffe.Module, obj: Any, text: str, public: dict[str, str]) -> str:
        scopes = []
        scope = obj
        while scope is not None:
            if scope.is_class or scope.is_module:
                scopes.append(scope.path)
            scope = scope.parent

        def role(match: re.Match[str]) -> str:
            tilde, target, parens = match.group(1), match.group(2), match.group(3) or ""
            shown = (target.rsplit(".", 1)[-1] if tilde else target.lstrip(".")) + parens
            code = f"<code>{shown}</code>"
            if target.startswith("."):
                return code
            candidates = [target] + [f"{s}.{target}" for s in scopes] + [f"tbwrite.{target}"]
            for candidate in candidates:
                found = _lookup(pkg, candidate)
                if found is None:
                    continue
                link = public.get(found.path) or public.get(candidate)
                if link is None:
                    return code
                return f'<autoref identifier="{link}" optional>{code}</autoref>'
            return code

        text = _ROLE.sub(role, text)
        return re.sub(r"::$", ":", text, flags=re.M)


class RayCallback(griffe.Extension):
    """``tbwrite.integrations.ray.TbwriteLoggerCallback`` is made at first access (it subclasses
    Ray's ``LoggerCallback``, imported then), so reading the source does not find it: this
    adds it as the module makes it, ``_Impl`` with the docstring ``_DOC``."""

    def on_module_members(self, *, mod: griffe.Module, **kwargs: Any) -> None:
        if mod.path != "tbwrite.integrations.ray" or "TbwriteLoggerCallback" in mod.members:
            return
        doc = ast.literal_eval(str(mod.members["_DOC"].value))
        impl = mod.members["_Impl"]
        cls = griffe.Class(
            "TbwriteLoggerCallback",
            lineno=impl.lineno,
            endlineno=impl.endlineno,
            bases=["ray.tune.logger.LoggerCallback"],
        )
        cls.docstring = griffe.Docstring(doc, lineno=impl.lineno, parent=cls)
        init = impl.members["__init__"]
        cls.set_member(
            "__init__",
            griffe.Function(
                "__init__",
                lineno=init.lineno,
                endlineno=init.endlineno,
                parameters=init.parameters,
                returns=init.returns,
            ),
        )
        mod.set_member("TbwriteLoggerCallback", cls)
