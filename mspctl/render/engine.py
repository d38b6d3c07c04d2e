"""The Jinja2 engine: StrictUndefined, located errors, one environment per templates folder.

Templates live in the MSP repository as ``templates/<platform>/main.j2``, which includes one
file per feature (``templates/<platform>/ntp.j2`` ...). A template error names the template,
its line and the device: ``templates/cisco_ios/ntp.j2:3: 'ntp_servers' is undefined (device acme-core-sw1)``.
"""

from __future__ import annotations

import ipaddress
import re
import traceback
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox

from mspctl.errors import MspctlError
from mspctl.escape import escape_text
from mspctl.files import safe_component


class TemplateError(MspctlError):
    code = "MSP-TPL-001"
    exit_code = 10


class MissingTemplateError(TemplateError):
    code = "MSP-TPL-404"


def _ip(value: str) -> str:
    return str(ipaddress.ip_interface(value).ip)


def _netmask(value: str) -> str:
    return str(ipaddress.ip_interface(value).netmask)


def _prefixlen(value: str) -> int:
    return ipaddress.ip_interface(value).network.prefixlen


class Multiline(str):
    """A value a template allows to span lines (``{{ banner | multiline }}``)."""


def _multiline(value: Any) -> Multiline:
    return Multiline(value)


# Line breaks and other control characters (a tab aside) in a value would add configuration lines
# of their own: a NetBox name `x\nusername evil privilege 15 ...` must not reach a device.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_MULTILINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class _InjectedLines(ValueError):
    pass


def _finalize(value: Any) -> Any:
    """Every ``{{ ... }}`` output: a value with a control character is refused (MSP-TPL-422)."""
    if isinstance(value, str):
        pattern = _CONTROL_MULTILINE if isinstance(value, Multiline) else _CONTROL
        bad = pattern.search(value)
        if bad:
            raise _InjectedLines(f"the value {value[:40]!r}... holds the control character {bad.group()!r}: it "
                                 "would add configuration lines of its own; fix the value in NetBox (or mark a "
                                 "value that may span lines with `| multiline`)")
    return value


FILTERS = {"ip": _ip, "netmask": _netmask, "prefixlen": _prefixlen, "multiline": _multiline}


class TemplateEngine:
    """Renders ``<platform>/main.j2`` from the repository's templates folder, or templates given
    as text (NetBox config templates: untrusted, so sandboxed, with one template per device)."""

    def __init__(self, folder: Path, *, sandboxed: bool = False, sources: dict[str, str] | None = None,
                 per_device: dict[str, str] | None = None) -> None:
        self.folder = folder
        self._per_device = per_device  # device name -> template name, for text sources
        cls = jinja2.sandbox.SandboxedEnvironment if sandboxed else jinja2.Environment
        loader: jinja2.BaseLoader = (jinja2.DictLoader(sources) if sources is not None
                                     else jinja2.FileSystemLoader(str(folder)))
        self.env = cls(loader=loader, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True, autoescape=False, finalize=_finalize)
        self.env.filters.update(FILTERS)
        self._sources = sources
        self._templates: dict[str, jinja2.Template] = {}
        self._exists: dict[str, bool] = {}  # one stat per template, not per device

    def template_for(self, platform: str | None, device: str = "") -> str:
        """The template name for a device: ``<platform>/main.j2`` (the NetBox platform slug made one
        path component by `mspctl.files.safe_component`), or the one assigned in NetBox."""
        if self._per_device is not None:
            return self._per_device.get(device, "")
        return f"{safe_component(platform) if platform else platform}/main.j2"

    def has_template(self, platform: str | None, device: str = "") -> bool:
        name = self.template_for(platform, device)
        if self._sources is not None:
            return name in self._sources
        if name not in self._exists:
            self._exists[name] = bool(platform) and (self.folder / name).is_file()
        return self._exists[name]

    def _load(self, name: str, device: str) -> jinja2.Template:
        if name not in self._templates:
            try:
                self._templates[name] = self.env.get_template(name)
            except jinja2.TemplateSyntaxError as exc:
                where = exc.filename or name
                raise TemplateError(f"{_rel(where, self.folder)}:{exc.lineno}: {exc.message} (device {device})",
                                    hint="fix the template syntax") from None
            except jinja2.TemplateNotFound as exc:
                raise MissingTemplateError(f"template {self.folder / str(exc.name)} not found (device {device})",
                                           hint="add it, or map the platform to an existing one") from None
        return self._templates[name]

    def render(self, platform: str | None, device: str, context: dict[str, Any]) -> str:
        """Render the device's template. Errors cite template:line and the device."""
        template = self._load(self.template_for(platform, device), device)
        try:
            return template.render(context)
        except jinja2.TemplateSyntaxError as exc:  # an included template that fails to compile
            raise TemplateError(f"{_rel(exc.filename or '?', self.folder)}:{exc.lineno}: {exc.message} "
                                f"(device {device})") from None
        except jinja2.TemplateNotFound as exc:
            raise MissingTemplateError(f"template {self.folder / str(exc.name)} not found (device {device})") from None
        except _InjectedLines as exc:
            raise TemplateError(f"{_template_frame(exc, self.folder)}: {exc} (device {escape_text(device)})",
                                code="MSP-TPL-422", hint="NetBox data is untrusted: names and values stay on "
                                                         "their line") from None
        except Exception as exc:  # UndefinedError, or an error inside a filter
            where = _template_frame(exc, self.folder)
            raise TemplateError(f"{where}: {type(exc).__name__}: {exc} (device {device})") from None


def _rel(path: str, folder: Path) -> str:
    try:
        return str(Path(path).relative_to(folder.parent))
    except ValueError:
        return path


def _template_frame(exc: BaseException, folder: Path) -> str:
    """The innermost template file and line in the traceback (Jinja maps frames back to templates)."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(".j2"):
            return f"{_rel(frame.filename, folder)}:{frame.lineno}"
        if frame.filename.startswith("<template>") or frame.name in ("top-level template code", "template"):
            return f"{folder}:{frame.lineno}"
    return str(folder)
