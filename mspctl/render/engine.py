"""The Jinja2 engine: StrictUndefined, located errors, one environment per templates folder.

Templates live in the MSP repository as ``templates/<platform>/main.j2``, which includes one
file per feature (``templates/<platform>/ntp.j2`` ...). A template error names the template,
its line and the device: ``templates/cisco_ios/ntp.j2:3: 'ntp_servers' is undefined (device acme-core-sw1)``;
a NetBox config template is named by its NetBox name and id: ``netbox template 'ios-base' (id 7):3: ...``.
Every render runs under the ``[render]`` limits (time, output size, loop steps: mspctl.render.limits).
"""

from __future__ import annotations

import ipaddress
import re
import traceback
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import jinja2

from mspctl.errors import MspctlError
from mspctl.escape import escape_text
from mspctl.files import safe_component
from mspctl.inventory.platforms import PlatformMap
from mspctl.render.limits import LimitedEnvironment, LimitedSandbox, RenderLimitError, render_within
from mspctl.settings import RenderSettings


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


class _TextLoader(jinja2.BaseLoader):
    """Templates given as text by key; each compiled under its label (``netbox template 'x' (id 7)``),
    which Jinja then reports as the file of every error and traceback frame in it."""

    def __init__(self, sources: Mapping[str, str], labels: Mapping[str, str]) -> None:
        self.sources = sources
        self.labels = labels

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str | None, Callable[[], bool]]:
        if template not in self.sources:
            raise jinja2.TemplateNotFound(template)
        return self.sources[template], self.labels.get(template), lambda: True


class TemplateEngine:
    """Renders ``<platform>/main.j2`` from the repository's templates folder, or templates given
    as text (NetBox config templates: untrusted, so sandboxed, with one template per device).

    `origins` names text templates that came from NetBox: key -> (NetBox name, NetBox id).
    `limits`: the ``[render]`` limits every render runs under (defaults when None).
    `platforms`: the platform normaliser (give it the settings' ``[platforms]`` overrides) that
    turns a NetBox slug (``cisco-ios``, ``Cisco IOS``) into the folder name (``cisco_ios``)."""

    def __init__(self, folder: Path, *, sandboxed: bool = False, sources: dict[str, str] | None = None,
                 per_device: dict[str, str] | None = None, origins: Mapping[str, tuple[str, int]] | None = None,
                 limits: RenderSettings | None = None, platforms: PlatformMap | None = None) -> None:
        self.folder = folder
        self._platforms = platforms or PlatformMap()
        self._per_device = per_device  # asset key (kind:id) -> template name, for text sources
        self._origins = dict(origins or {})
        self._labels = {key: f"netbox template {name!r} (id {nb_id})" for key, (name, nb_id) in self._origins.items()}
        limits = limits or RenderSettings()
        loader: jinja2.BaseLoader = (_TextLoader(sources, self._labels) if sources is not None
                                     else jinja2.FileSystemLoader(str(folder)))
        options: dict[str, Any] = {"loader": loader, "undefined": jinja2.StrictUndefined, "trim_blocks": True,
                                   "lstrip_blocks": True, "keep_trailing_newline": True, "autoescape": False,
                                   "finalize": _finalize}
        self.env: LimitedEnvironment | LimitedSandbox = (LimitedSandbox(limits, **options) if sandboxed
                                                         else LimitedEnvironment(limits, **options))
        self.env.filters.update(FILTERS)
        self.env.limit_filters()
        self._sources = sources
        self._templates: dict[str, jinja2.Template] = {}
        self._exists: dict[str, bool] = {}  # one stat per template, not per device

    def template_for(self, platform: str | None, device: str = "", key: str = "") -> str:
        """The template name for a device: ``<platform>/main.j2``, where ``<platform>`` is the
        canonical platform of the NetBox slug (``cisco-ios`` -> ``cisco_ios``; an unknown slug as
        it is), made one path component by `mspctl.files.safe_component`; or the template
        assigned in NetBox to the asset `key` (``device:12``: two clients may name two devices alike)."""
        if self._per_device is not None:
            return self._per_device.get(key or device, "")
        if not platform:
            return "(no platform)/main.j2"
        return f"{safe_component(self._platforms.canonical(platform) or platform)}/main.j2"

    def has_template(self, platform: str | None, device: str = "", key: str = "") -> bool:
        name = self.template_for(platform, device, key)
        if self._sources is not None:
            return name in self._sources
        if name not in self._exists:
            self._exists[name] = bool(platform) and (self.folder / name).is_file()
        return self._exists[name]

    def display_name(self, name: str) -> str:
        """What a result shows as its template: a NetBox config template's own name, else `name`."""
        origin = self._origins.get(name)
        return origin[0] if origin else name

    def _where(self, filename: str) -> str:
        """A template's file as errors name it: ``templates/x/ntp.j2``, or a NetBox template's label."""
        return filename if filename in self._labels.values() else _rel(filename, self.folder)

    def _load(self, name: str, device: str) -> jinja2.Template:
        if name not in self._templates:
            try:
                self._templates[name] = self.env.get_template(name)
            except jinja2.TemplateSyntaxError as exc:
                where = self._where(exc.filename or self._labels.get(name, name))
                raise TemplateError(f"{where}:{exc.lineno}: {exc.message} (device {device})",
                                    hint="fix the template syntax") from None
            except jinja2.TemplateNotFound as exc:
                raise MissingTemplateError(f"template {self.folder / str(exc.name)} not found (device {device})",
                                           hint="add it, or map the platform to an existing one") from None
        return self._templates[name]

    def render(self, platform: str | None, device: str, context: dict[str, Any], key: str = "") -> str:
        """Render the device's template. Errors cite template:line and the device."""
        name = self.template_for(platform, device, key)
        template = self._load(name, device)
        try:
            return render_within(template, context, self.env.budget)
        except RenderLimitError as exc:
            where = _template_frame(exc, self.folder, self._labels.values(),
                                    self._labels.get(name) or _rel(str(self.folder / name), self.folder))
            raise TemplateError(f"{where}: {exc} (device {escape_text(device)})", code=exc.code,
                                hint="[render] template_timeout, max_output_bytes and max_loop_iterations bound "
                                     "every render; fix the template, or raise the limit in mspctl.toml") from None
        except jinja2.TemplateSyntaxError as exc:  # an included template that fails to compile
            raise TemplateError(f"{self._where(exc.filename or '?')}:{exc.lineno}: {exc.message} "
                                f"(device {device})") from None
        except jinja2.TemplateNotFound as exc:
            raise MissingTemplateError(f"template {self.folder / str(exc.name)} not found (device {device})") from None
        except _InjectedLines as exc:
            where = _template_frame(exc, self.folder, self._labels.values())
            raise TemplateError(f"{where}: {exc} (device {escape_text(device)})",
                                code="MSP-TPL-422", hint="NetBox data is untrusted: names and values stay on "
                                                         "their line") from None
        except Exception as exc:  # UndefinedError, or an error inside a filter
            where = _template_frame(exc, self.folder, self._labels.values())
            raise TemplateError(f"{where}: {type(exc).__name__}: {exc} (device {device})") from None


def _rel(path: str, folder: Path) -> str:
    try:
        return str(Path(path).relative_to(folder.parent))
    except ValueError:
        return path


def _template_frame(exc: BaseException, folder: Path, labels: Collection[str] = (), fallback: str | None = None) -> str:
    """The innermost template file and line in the traceback (Jinja maps frames back to templates):
    a repository file, or a NetBox config template by its label. `fallback` when there is none."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename in labels:
            return f"{frame.filename}:{frame.lineno}"
        if frame.filename.endswith(".j2"):
            return f"{_rel(frame.filename, folder)}:{frame.lineno}"
        if frame.filename.startswith("<template>") or frame.name in ("top-level template code", "template"):
            return f"{folder}:{frame.lineno}"
    return fallback or str(folder)
