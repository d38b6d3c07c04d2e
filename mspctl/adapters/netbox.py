"""NetBox adapter: the only module that talks to NetBox (through pynetbox and its HTTP session).

A full read goes through GraphQL, asking only for the fields mspctl uses, with pages fetched in
parallel (MAX_PAGE_SIZE is 1,000). REST with ``fields=`` costs NetBox about 40 % more server
time for the same rows, because its nested "brief" objects carry counts; it remains the path
for delta reads (``last_updated__gte``), counts, and NetBoxes with GraphQL turned off. Single
records (``inventory show``) come with their merged config context.
Every failure becomes an `MspctlError`; the token never appears in a message.
"""

from __future__ import annotations

import contextlib
import email.utils
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mspctl.errors import (
    ConfigError,
    InvalidFilterError,
    NetBoxAuthError,
    NetBoxBadAnswerError,
    NetBoxError,
    NetBoxIncompleteError,
    NetBoxPermissionError,
    NetBoxServerError,
    NetBoxUnreachableError,
    UnknownDeviceError,
)
from mspctl.model import Asset, AssetKind, Client, DeviceDetails, Interface, ProgressFn
from mspctl.patch.model import PatchNote
from mspctl.redact import redact
from mspctl.settings import NetBoxSettings

if TYPE_CHECKING:
    import requests

ENDPOINTS: dict[AssetKind, str] = {"device": "dcim/devices", "vm": "virtualization/virtual-machines"}
_OBJECT_TYPES: dict[AssetKind, str] = {"device": "dcim.device", "vm": "virtualization.virtualmachine"}
_COMMON = ["id", "name", "tenant", "site", "role", "platform", "status", "primary_ip4", "primary_ip6",
           "serial", "tags", "custom_fields", "last_updated", "cluster"]
FIELDS: dict[AssetKind, str] = {"device": ",".join([*_COMMON, "device_type"]), "vm": ",".join(_COMMON)}
_GQL_COMMON = ("id name serial last_updated status tenant { slug } site { slug } role { slug } platform { slug } "
               "primary_ip4 { address } primary_ip6 { address } cluster { name } tags { slug } custom_fields")
GRAPHQL: dict[AssetKind, tuple[str, str]] = {
    "device": ("device_list", _GQL_COMMON + " device_type { slug manufacturer { slug } }"),
    "vm": ("virtual_machine_list", _GQL_COMMON),
}


class _GraphQLUnavailable(Exception):
    """GraphQL is turned off or refused the query: fall back to REST."""


def _slug(obj: Any, key: str = "slug") -> str | None:
    if isinstance(obj, dict):
        return obj.get(key) or obj.get("name")
    return None


_UTC_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?\+00:00$")


def _utc_z(value: Any) -> Any:
    """A datetime custom field as REST spells it (``...Z``); GraphQL says ``...+00:00``."""
    return value[:-6] + "Z" if isinstance(value, str) and _UTC_TIME.match(value) else value


def asset_from_record(kind: AssetKind, rec: dict[str, Any]) -> Asset:
    """Translate a NetBox REST record (full or ``fields=``-trimmed) or GraphQL record into an Asset."""
    ip = rec.get("primary_ip4") or rec.get("primary_ip6")
    status = rec.get("status")
    dtype = rec.get("device_type") or None
    return Asset(
        kind=kind,
        id=int(rec["id"]),
        name=rec.get("name") or f"{kind}-{rec['id']}",
        client=_slug(rec.get("tenant")),
        site=_slug(rec.get("site")),
        role=_slug(rec.get("role")),
        platform=_slug(rec.get("platform")),
        status=status.get("value") if isinstance(status, dict) else status,
        primary_ip=ip["address"].split("/")[0] if isinstance(ip, dict) and ip.get("address") else None,
        serial=rec.get("serial") or None,
        device_type=_slug(dtype),
        manufacturer=_slug(dtype.get("manufacturer")) if isinstance(dtype, dict) else None,
        cluster=_slug(rec.get("cluster"), "name"),
        tags=tuple(sorted(t["slug"] for t in rec.get("tags") or [])),
        custom_fields={k: _utc_z(v) for k, v in (rec.get("custom_fields") or {}).items() if v is not None},
        config_context=rec.get("config_context"),
        # REST says ...Z, GraphQL ...+00:00: one spelling, so records compare equal across paths.
        last_updated=str(rec["last_updated"]).replace("+00:00", "Z") if rec.get("last_updated") else None,
    )


class NetBoxSource:
    """Reads clients and assets from one NetBox. Satisfies `mspctl.inventory.service.InventorySource`."""

    name = "netbox"

    def __init__(self, settings: NetBoxSettings) -> None:
        if not settings.url:
            raise ConfigError("no NetBox URL configured",
                              hint="set NETBOX_API, --netbox-url, or [netbox] url in mspctl.toml")
        if not settings.token:
            raise ConfigError("no NetBox API token configured",
                              hint="set NETBOX_TOKEN, --netbox-token, or [netbox] token in mspctl.toml")
        self.settings = settings
        self.url = settings.url
        self._api: Any = None
        self._session: requests.Session | None = None

    # -- plumbing -------------------------------------------------------------------------
    @property
    def api(self) -> Any:
        if self._api is None:
            import pynetbox  # deferred: keeps `mspctl --help` and cached runs fast

            api = pynetbox.api(self.url, token=self.settings.token)
            api.http_session.verify = self.settings.verify_tls
            if not self.settings.verify_tls:
                import urllib3

                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            self._api = api
        return self._api

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            import requests.adapters
            from urllib3.util.retry import Retry

            s = self.api.http_session
            # Reads (GET, and GraphQL's POST, a query) are tried again after a dropped or reset
            # connection, a cut answer, or a 502/503/504 from NetBox or a proxy before it, with
            # exponential backoff and Retry-After honoured. Writes are never sent twice.
            retry = Retry(total=self.settings.retries, connect=self.settings.retries, read=self.settings.retries,
                          status=self.settings.retries, other=0, backoff_factor=0.5, backoff_max=8,
                          status_forcelist=(502, 503, 504), allowed_methods=frozenset({"GET", "HEAD"}),
                          raise_on_status=False, respect_retry_after_header=True)
            adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=max(8, self.settings.workers * 2),
                                                    max_retries=retry)
            s.mount("http://", adapter)
            s.mount("https://", adapter)
            token = self.settings.token or ""
            scheme = "Bearer" if token.startswith("nbt_") else "Token"
            s.headers.update({"Authorization": f"{scheme} {token}", "Accept": "application/json"})
            self._session = s
        return self._session

    def _get(self, path: str, params: dict[str, Any] | None = None) -> tuple[dict[str, Any], str | None]:
        """GET /api/<path>/ and return (json, Date header). Maps every failure to an MspctlError."""
        return self._request("GET", path, params=params)

    def _request(self, method: str, path: str, params: dict[str, Any] | None = None,
                 payload: Any = None) -> tuple[Any, str | None]:
        import requests

        url = f"{self.url}/api/{path}/"
        # urllib3 retries what fails before the answer's body; a body cut short (a proxy dropping
        # the connection mid-answer) surfaces here, and a read is tried again for it too.
        body_tries = self.settings.retries + 1 if method == "GET" else 1
        try:
            for attempt in range(body_tries):
                try:
                    # verify per request: a session-level False loses to REQUESTS_CA_BUNDLE in requests.
                    resp = self.session.request(method, url, params=params, json=payload,
                                                timeout=self.settings.timeout, verify=self.settings.verify_tls)
                    break
                except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
                    if attempt + 1 == body_tries:
                        raise
                    time.sleep(min(8.0, 0.5 * 2 ** attempt))
        except requests.exceptions.SSLError as exc:
            raise NetBoxUnreachableError(f"TLS verification failed for {self.url}: {type(exc).__name__}",
                                         hint="fix the certificate, or pass --insecure for a lab") from None
        except requests.exceptions.Timeout:
            raise NetBoxUnreachableError(f"NetBox at {self.url} did not answer within {self.settings.timeout:.0f}s",
                                         hint="check the server, or raise [netbox] timeout") from None
        except requests.exceptions.ConnectionError as exc:
            tries = f" after {self.settings.retries + 1} tries" if method == "GET" and self.settings.retries else ""
            if "Timeout" in _reason(exc):  # a read timeout, wrapped by urllib3's retries
                raise NetBoxUnreachableError(f"NetBox at {self.url} did not answer within "
                                             f"{self.settings.timeout:.0f}s{tries}",
                                             hint="check the server, or raise [netbox] timeout") from None
            raise NetBoxUnreachableError(f"cannot reach NetBox at {self.url}: connection failed{tries} "
                                         f"({_reason(exc)})",
                                         hint="check NETBOX_API / --netbox-url and that NetBox is running") from None
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
            raise NetBoxBadAnswerError(f"NetBox's answer to {method} /api/{path}/ was cut short ({_reason(exc)})"
                                       f"{f' {body_tries} times' if body_tries > 1 else ''}; nothing was cached",
                                       hint="run again; check a proxy or load balancer "
                                       "in front of NetBox") from None
        return self._check(resp, path, params, write=method != "GET"), resp.headers.get("Date")

    def _check(self, resp: requests.Response, path: str, params: dict[str, Any] | None,
               write: bool = False) -> Any:
        if resp.status_code == 401 or (resp.status_code == 403 and "token" in resp.text.lower()):
            raise NetBoxAuthError(f"NetBox at {self.url} rejected the API token ({resp.status_code}: "
                                  f"{_detail(resp)})", hint="check NETBOX_TOKEN; it may be wrong or expired")
        if resp.status_code == 403:
            verb = "write" if write else "read"
            raise NetBoxPermissionError(f"the API token may not {verb} {path} on {self.url} (403: {_detail(resp)})",
                                        hint=f"grant the token's user {'change/add' if write else 'view'} permission")
        if resp.status_code == 400 and write:
            raise NetBoxError(f"NetBox refused the change to {path}: {_detail(resp)}",
                              hint="are mspctl's custom fields installed? see docs/patch.md")
        if resp.status_code == 400:
            raise InvalidFilterError(f"NetBox refused the filter on {path}: {_detail(resp)}")
        if resp.status_code == 404:
            raise NetBoxError(f"{self.url}/api/{path}/ not found (404)", code="MSP-NB-404",
                              hint="is this NetBox 4.x, and the URL its root?")
        if resp.status_code >= 500:
            tries = f" (tried {self.settings.retries + 1} times)" if not write and self.settings.retries else ""
            raise NetBoxServerError(f"NetBox at {self.url} answered {resp.status_code} on {path}{tries}: "
                                    f"{_detail(resp)}", hint="NetBox or a proxy before it is failing: check its "
                                    "logs, then run again; nothing was cached")
        if resp.status_code >= 400:
            raise NetBoxError(f"NetBox error {resp.status_code} on {path}: {_detail(resp)}")
        try:
            return resp.json() if resp.content else {}
        except ValueError:
            raise NetBoxBadAnswerError(f"{self.url}/api/{path}/ did not return JSON (a cut answer, or not NetBox's "
                                       "URL); nothing was cached",
                                       hint="check NETBOX_API, and a proxy before NetBox; then run again") from None

    # -- queries --------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        data, _ = self._get("status")
        return data

    def clients(self) -> list[Client]:
        rows = self._paged("tenancy/tenants", {"fields": "id,slug,name,group,custom_fields,device_count,"
                                                         "virtualmachine_count"}, None)
        return [Client(slug=r["slug"], name=r["name"], group=_slug(r.get("group")),
                       device_count=int(r.get("device_count") or 0),
                       vm_count=int(r.get("virtualmachine_count") or 0),
                       custom_fields={k: v for k, v in (r.get("custom_fields") or {}).items() if v is not None})
                for r in rows]

    def server_time(self) -> str:
        """A sync mark from NetBox's clock (the Date header of a cheap request), see SYNC_MARGIN."""
        _, date = self._get("status")
        return _iso(date)

    def fetch_assets(self, since: str | None = None, progress: ProgressFn | None = None) -> tuple[list[Asset], str]:
        """All devices and VMs, plus the sync mark for the next delta (`fetch_changes`)."""
        if self.settings.graphql:
            try:
                return self._fetch_all_graphql(progress)
            except _GraphQLUnavailable:
                pass
        started = self.server_time()
        assets: list[Asset] = []
        for kind, endpoint in ENDPOINTS.items():
            params: dict[str, Any] = {"fields": FIELDS[kind], "ordering": "id"}
            assets.extend(asset_from_record(kind, r) for r in self._paged(endpoint, params, progress))
        return assets, started

    def fetch_changes(self, since: str) -> tuple[list[Asset], dict[str, int], str]:
        """Assets changed at or after `since`, current counts per kind, and the next sync mark.

        The four small requests go out at once: a warm run costs one round trip, not four. The
        count requests' Date header doubles as the sync mark.
        """
        with ThreadPoolExecutor(max_workers=4) as pool:
            changed = {kind: pool.submit(self._paged, ep, {"fields": FIELDS[kind], "ordering": "id",
                                                           "last_updated__gte": since}, None)
                       for kind, ep in ENDPOINTS.items()}
            counts = {kind: pool.submit(self._count, ep) for kind, ep in ENDPOINTS.items()}
            assets = [asset_from_record(kind, r) for kind, fut in changed.items() for r in fut.result()]
            totals: dict[str, int] = {kind: fut.result()[0] for kind, fut in counts.items()}
            mark = _iso(counts["device"].result()[1])
        return assets, totals, mark

    def _fetch_all_graphql(self, progress: ProgressFn | None) -> tuple[list[Asset], str]:
        size = self.settings.page_size
        assets: list[Asset] = []
        with ThreadPoolExecutor(max_workers=max(2, self.settings.workers)) as pool:
            # Counts and each kind's first page start together; the other pages follow them (the
            # first page also tells the server's real page size, see `page_step`).
            counts = {kind: pool.submit(self._count, ep) for kind, ep in ENDPOINTS.items()}
            firsts = {kind: pool.submit(self._graphql_page, kind, 0, size) for kind in GRAPHQL}
            totals = {kind: fut.result()[0] for kind, fut in counts.items()}
            pages = [(kind, firsts[kind]) for kind in GRAPHQL]
            for kind in GRAPHQL:
                step = page_step(size, len(firsts[kind].result()), totals[kind])
                pages += [(kind, pool.submit(self._graphql_page, kind, off, step))
                          for off in range(step, totals[kind], step)]
            total, done = sum(totals.values()), 0
            read: dict[str, int] = {}
            for kind, fut in pages:
                rows = fut.result()
                assets.extend(asset_from_record(kind, r) for r in rows)
                read[kind] = read.get(kind, 0) + len(rows)
                done += len(rows)
                if progress:
                    progress("devices and VMs", done, total)
            for kind in GRAPHQL:
                check_complete(f"GraphQL {GRAPHQL[kind][0]}", read.get(kind, 0), totals[kind])
            mark = _iso(counts["device"].result()[1])
        return assets, mark

    def _count(self, endpoint: str) -> tuple[int, str | None]:
        """How many objects `endpoint` holds, and the response's Date header (NetBox's clock)."""
        data, date = self._get(endpoint, {"limit": 1, "fields": "id"})
        return int(data["count"]), date

    def _graphql_page(self, kind: AssetKind, offset: int, limit: int) -> list[dict[str, Any]]:
        import requests

        field, selection = GRAPHQL[kind]
        query = f"query {{ {field}(pagination: {{offset: {offset}, limit: {limit}}}) {{ {selection} }} }}"
        try:
            resp = self.session.post(f"{self.url}/graphql/", json={"query": query}, timeout=self.settings.timeout,
                                     verify=self.settings.verify_tls)
        except requests.exceptions.RequestException:
            raise _GraphQLUnavailable from None
        if resp.status_code in (401, 403):
            self._check(resp, "graphql", None)  # raises the auth error
        if resp.status_code != 200:
            raise _GraphQLUnavailable
        body = self._check(resp, "graphql", None)
        if body.get("errors") or not isinstance(body.get("data"), dict):
            raise _GraphQLUnavailable
        return list(body["data"].get(field) or [])

    def fetch_device_details(self, device_ids: list[int]) -> dict[int, DeviceDetails]:
        """Merged config context and interfaces (with IPs) of many devices, in parallel chunks."""
        if not device_ids:
            return {}
        chunks = [device_ids[i:i + 100] for i in range(0, len(device_ids), 100)]
        with ThreadPoolExecutor(max_workers=max(1, self.settings.workers)) as pool:
            ctx_rows = pool.map(lambda c: self._paged("dcim/devices", {"id": c, "fields": "id,config_context"}, None),
                                chunks)
            if_rows = pool.map(lambda c: self._paged("dcim/interfaces", {
                "device_id": c, "fields": "id,device,name,type,enabled,description,mtu,mode,mgmt_only"}, None), chunks)
            ip_rows = pool.map(lambda c: self._paged("ipam/ip-addresses", {
                "device_id": c, "fields": "address,assigned_object_type,assigned_object_id"}, None), chunks)
            contexts = {int(r["id"]): r.get("config_context") or {} for rows in ctx_rows for r in rows}
            interfaces = [r for rows in if_rows for r in rows]
            addresses: dict[int, list[str]] = {}
            for rows in ip_rows:
                for r in rows:
                    if r.get("assigned_object_type") == "dcim.interface":
                        addresses.setdefault(int(r["assigned_object_id"]), []).append(r["address"])
        per_device: dict[int, list[Interface]] = {}
        for r in interfaces:
            mode = r.get("mode")
            per_device.setdefault(int(r["device"]["id"]), []).append(Interface(
                name=r["name"], type=_value(r.get("type")), enabled=bool(r.get("enabled", True)),
                description=r.get("description") or "", mtu=r.get("mtu"), mode=_value(mode),
                mgmt_only=bool(r.get("mgmt_only")), addresses=tuple(sorted(addresses.get(int(r["id"]), []))),
            ))
        return {dev_id: DeviceDetails(contexts.get(dev_id, {}), tuple(per_device.get(dev_id, ())))
                for dev_id in device_ids}

    def fetch_config_contexts(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], dict[str, Any]]:
        """Merged config contexts of many devices and VMs ((kind, id) keys), in parallel id chunks."""
        jobs = []
        for kind, endpoint in ENDPOINTS.items():
            ids = [i for k, i in keys if k == kind]
            jobs += [(kind, endpoint, ids[n:n + 100]) for n in range(0, len(ids), 100)]
        out: dict[tuple[str, int], dict[str, Any]] = {}
        with ThreadPoolExecutor(max_workers=max(1, self.settings.workers)) as pool:
            pages = pool.map(lambda j: (j[0], self._paged(j[1], {"id": j[2], "fields": "id,config_context"}, None)),
                             jobs)
            for kind, rows in pages:
                out.update({(kind, int(r["id"])): r.get("config_context") or {} for r in rows})
        return out

    def fetch_config_templates(self, device_ids: list[int]) -> dict[int, tuple[str, str, int]]:
        """Each device's config template as NetBox resolves it (device, else role, else platform):
        (name, code, the template's NetBox id)."""
        chunks = [device_ids[i:i + 100] for i in range(0, len(device_ids), 100)]
        devices = [r for c in chunks for r in self._paged("dcim/devices", {
            "id": c, "fields": "id,config_template,role,platform"}, None)]
        roles = {r["id"]: r.get("config_template") for r in self._paged(
            "dcim/device-roles", {"fields": "id,config_template"}, None)}
        platforms = {r["id"]: r.get("config_template") for r in self._paged(
            "dcim/platforms", {"fields": "id,config_template"}, None)}
        templates = {r["id"]: (str(r["name"]), str(r.get("template_code") or ""), int(r["id"])) for r in self._paged(
            "extras/config-templates", {"fields": "id,name,template_code"}, None)}
        out: dict[int, tuple[str, str, int]] = {}
        for d in devices:
            chosen = (d.get("config_template") or roles.get((d.get("role") or {}).get("id"))
                      or platforms.get((d.get("platform") or {}).get("id")))
            if chosen and chosen["id"] in templates:
                out[int(d["id"])] = templates[chosen["id"]]
        return out

    def write_patch_notes(self, notes: Sequence[PatchNote]) -> None:
        """Record patch results: one journal entry per host, and the ``patch_compliance`` and
        ``last_patched`` custom fields. Three bulk requests at most (journal, devices, VMs), so a
        window over hundreds of hosts costs NetBox three transactions. Raises NetBoxError.
        """
        if not notes:
            return
        journal = [{"assigned_object_type": _OBJECT_TYPES[n.kind], "assigned_object_id": n.id,
                    "kind": n.level, "comments": redact(n.comments)} for n in notes]
        self._request("POST", "extras/journal-entries", payload=journal)
        pin = any(n.machine_id for n in notes) and self._has_custom_field("machine_id")
        for kind in ("device", "vm"):
            rows = []
            for n in notes:
                if n.kind != kind:
                    continue
                fields: dict[str, Any] = {"patch_compliance": n.compliance}
                if n.patched_at is not None:
                    fields["last_patched"] = n.patched_at.astimezone(UTC).isoformat(timespec="seconds")
                if pin and n.machine_id:
                    fields["machine_id"] = n.machine_id
                rows.append({"id": n.id, "custom_fields": fields})
            if rows:
                self._request("PATCH", ENDPOINTS[kind], payload=rows)

    def _has_custom_field(self, name: str) -> bool:
        data, _ = self._get("extras/custom-fields", {"name": name, "limit": 1})
        return bool(data.get("results"))

    def asset_ids(self) -> set[tuple[str, int]]:
        ids: set[tuple[str, int]] = set()
        for kind, ep in ENDPOINTS.items():
            ids.update((kind, int(r["id"])) for r in self._paged(ep, {"fields": "id"}, None))
        return ids


    def fetch_asset(self, kind: AssetKind, name: str, client: str | None = None,
                    object_id: int | None = None) -> Asset:
        """One asset with its merged config context: by its id when known, else by exact name
        (NetBox's `name` filter ignores case: `RTR1` and `rtr1` are two devices)."""
        params: dict[str, Any] = {"id": object_id} if object_id is not None else {"name": name}
        if client and object_id is None:
            params["tenant"] = client
        data, _ = self._get(ENDPOINTS[kind], params)
        results = [r for r in data.get("results") or [] if object_id is not None or r.get("name") == name]
        if not results:
            raise UnknownDeviceError(f"no {kind} named {name!r}" + (f" for client {client!r}" if client else ""))
        return asset_from_record(kind, results[0])

    def _paged(self, path: str, params: dict[str, Any], progress: ProgressFn | None) -> list[dict[str, Any]]:
        """Every row of `path`: the first page, then the rest in parallel. A server that gives
        fewer rows per page than asked (its MAX_PAGE_SIZE) sets the step; the rows read must add
        up to the count NetBox reports, else NetBoxIncompleteError (never a partial success)."""
        first, _ = self._get(path, {**params, "limit": self.settings.page_size, "offset": 0})
        total = int(first.get("count") or 0)
        rows: list[dict[str, Any]] = list(first.get("results") or [])
        size = page_step(self.settings.page_size, len(rows), total)
        if progress:
            progress(path, len(rows), total)
        offsets = list(range(size, total, size))
        if offsets:
            with ThreadPoolExecutor(max_workers=max(1, self.settings.workers)) as pool:
                for page in pool.map(lambda off: self._get(path, {**params, "limit": size, "offset": off})[0],
                                     offsets):
                    rows.extend(page.get("results") or [])
                    if progress:
                        progress(path, len(rows), total)
        check_complete(path, len(rows), total)
        return rows


def page_step(asked: int, got: int, total: int) -> int:
    """The page size to step by: NetBox clamps `limit` to its MAX_PAGE_SIZE without saying so, so
    a first page shorter than asked, of a larger total, is the server's real page size."""
    return got if 0 < got < asked and total > got else asked


def check_complete(what: str, read: int, total: int) -> None:
    if read != total:
        raise NetBoxIncompleteError(
            f"NetBox reported {total} rows for {what} but {read} were read: the data changed while it was "
            "being read, or pages were lost", hint="run again; if it persists, check a proxy or NetBox's "
                                                    "MAX_PAGE_SIZE against [netbox] page_size")


def _value(choice: Any) -> str | None:
    """NetBox choice fields come as {"value": ..., "label": ...}."""
    return choice.get("value") if isinstance(choice, dict) else choice


def _reason(exc: BaseException) -> str:
    """The innermost cause of a requests/urllib3 failure, as a short name (`ConnectionResetError`,
    `RemoteDisconnected`, `IncompleteRead`), without the URL and pool details around it."""
    seen: BaseException = exc
    for _ in range(8):
        inner = getattr(seen, "reason", None) or (seen.args[0] if seen.args and isinstance(seen.args[0],
                                                                                           BaseException) else None)
        inner = inner or seen.__context__
        if not isinstance(inner, BaseException):
            break
        seen = inner
    return type(seen).__name__


def _detail(resp: Any) -> str:
    try:
        body = resp.json()
        text = body.get("detail") if isinstance(body, dict) and "detail" in body else body
    except ValueError:
        text = resp.text[:200]
    return redact(str(text))


# A sync mark is NetBox's clock minus this margin. The status request that reads the clock runs
# alongside the data requests, and its Date header has one-second resolution; re-reading the
# few records changed in the margin is harmless (the cache upserts), missing one is not.
SYNC_MARGIN = timedelta(seconds=10)


def _iso(date_header: str | None) -> str:
    when = datetime.now(UTC)
    if date_header:
        with contextlib.suppress(TypeError, ValueError):
            when = email.utils.parsedate_to_datetime(date_header).astimezone(UTC)
    return (when - SYNC_MARGIN).isoformat()
