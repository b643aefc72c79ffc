"""The catalogue of notification rules and templates an operator edits, in the service's store.

`rules`: one document per event type (`_id` = the event type; the store's `version` is the rule's).
`templates`: one document per template version (`_id` = "<key>@<n>"), never changed once written, so a
message can always say which text it was rendered from, and a race between two editors ends in a
duplicate key for one of them.

The service reads a rule and a template for every event it consumes: those reads come from memory,
refreshed after `cache_seconds` (and at once on the replica that saved), so an operator's change reaches
every replica within seconds."""

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from importlib.resources import files
from typing import Any

from kit.events import utcnow
from kit.store import DocumentStore, DuplicateKey, VersionConflict

from notification.domain import Channel, Language
from notification.rules import (
    Audience,
    Rule,
    RuleError,
    check_event_type,
    check_rule,
    placeholder_problems,
)
from notification.templates import (
    ChannelTexts,
    SmsLength,
    TemplateError,
    TemplateVersion,
    check_template,
    placeholders_in,
)

log = logging.getLogger("notification.library")
RULES, TEMPLATES = "rules", "templates"
SEEDER = "system:defaults"
MAX_CACHED_KEYS = 1000


class SavedTemplate(TemplateVersion):
    """A version just saved, with how long its SMS is in each language (rendered with the sample values)."""

    sms: dict[Language, SmsLength]


class StaleVersion(Exception):
    """The template changed since the editor read it: they must look at the current version first."""

    def __init__(self, key: str, based_on: int | None, current: int | None):
        self.key, self.based_on, self.current = key, based_on, current
        super().__init__(f"template '{key}' is at version {current}, not {based_on}")


def default_catalogue() -> dict[str, list[dict[str, Any]]]:
    """The rules and templates a new installation starts with (defaults.json beside this module)."""
    return json.loads(files("notification").joinpath("defaults.json").read_text(encoding="utf-8"))


def _template_id(key: str, version: int) -> str:
    return f"{key}@{version}"


def _template_from(doc: dict[str, Any]) -> TemplateVersion:
    # The store owns `version` (its optimistic-concurrency counter): the template's number is `number`.
    return TemplateVersion(key=doc["key"], version=doc["number"], texts=doc["texts"], note=doc.get("note", ""),
                           created_by=doc["created_by"], created_at=doc["created_at"])


def _template_doc(template: TemplateVersion) -> dict[str, Any]:
    data = template.model_dump(mode="json", include=set(TemplateVersion.model_fields))
    data["number"] = data.pop("version")
    return {"_id": _template_id(template.key, template.version), **data}


def _rule_from(doc: dict[str, Any]) -> Rule:
    return Rule.model_validate({k: v for k, v in doc.items() if k not in ("_id", "outbox")})


def _rule_doc(rule: Rule) -> dict[str, Any]:
    return {"_id": rule.event_type, **rule.model_dump(mode="json", exclude={"version"})}


class _Expiring:
    """One value kept for `ttl` seconds, loaded by one caller at a time."""

    def __init__(self, ttl: float, clock: Callable[[], float]):
        self.ttl, self.clock = ttl, clock
        self.value: Any = None
        self.expires = float("-inf")
        self.lock = asyncio.Lock()

    async def get(self, load: Callable[[], Any]) -> Any:
        if self.clock() < self.expires:
            return self.value
        async with self.lock:
            if self.clock() >= self.expires:  # another caller may have loaded it while we waited
                self.value = await load()
                self.expires = self.clock() + self.ttl
        return self.value

    def clear(self) -> None:
        self.expires = float("-inf")


class Library:
    def __init__(self, store: DocumentStore, *, sms_max_parts: int, cache_seconds: float = 3.0,
                 clock: Callable[[], float] = time.monotonic):
        self.rules_coll = store.collection(RULES)
        self.templates_coll = store.collection(TEMPLATES)
        self.sms_max_parts = sms_max_parts
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._rules = _Expiring(cache_seconds, clock)
        self._current: dict[str, _Expiring] = {}
        self._started = False
        self._starting = asyncio.Lock()

    # -- start -----------------------------------------------------------------------------------

    async def ensure_started(self) -> None:
        """Start once. The consumers run before the app's startup hook ends: the first event must not find
        the defaults missing (it would be marked applied with no message sent)."""
        if self._started:
            return
        async with self._starting:
            if not self._started:
                await self.start()
                self._started = True

    async def start(self) -> None:
        await self.templates_coll.ensure_index(["key", "number"], unique=True)
        await self.rules_coll.ensure_index(["template"])
        await self.seed(default_catalogue())

    async def seed(self, catalogue: Mapping[str, list[dict[str, Any]]]) -> None:
        """Add each default that is absent; never touch what exists. Safe when replicas start together (the
        loser of each insert gets a duplicate key) and after a start that stopped half-way."""
        now = utcnow()
        for item in catalogue.get("templates", []):
            template = TemplateVersion(key=item["key"], version=1, texts=item["texts"], note=item.get("note", ""),
                                       created_by=SEEDER, created_at=now)
            if await self.templates_coll.find_one({"key": template.key}) is not None:
                continue
            try:
                await self.templates_coll.insert(_template_doc(template))
            except DuplicateKey:
                pass
        for item in catalogue.get("rules", []):
            if await self.rules_coll.get(item["event_type"]) is not None:
                continue
            try:
                check_rule(item["event_type"], item["template"], await self._current_template(item["template"]))
            except (RuleError, TemplateError) as exc:  # an operator's template no longer fits a new default
                log.warning("default rule not added", extra={"event_type": item["event_type"], "error": str(exc)})
                continue
            rule = Rule(**item, version=1, changed_by=SEEDER, changed_at=now)
            try:
                await self.rules_coll.insert(_rule_doc(rule))
            except DuplicateKey:
                pass
        self._forget()

    # -- reads (cached) --------------------------------------------------------------------------

    async def rules(self) -> list[Rule]:
        return sorted((await self._all_rules()).values(), key=lambda r: r.event_type)

    async def rule_for(self, event_type: str) -> Rule | None:
        """The rule for an event type, enabled or not (the caller checks `enabled`)."""
        return (await self._all_rules()).get(event_type)

    async def template(self, key: str, version: int | None = None) -> TemplateVersion | None:
        """A version of a template; the current (highest) one when `version` is None."""
        if version is not None:
            doc = await self.templates_coll.get(_template_id(key, version))
            return _template_from(doc) if doc else None
        if key not in self._current and len(self._current) >= MAX_CACHED_KEYS:
            self._current.clear()  # keys asked for that do not exist must not grow the cache for ever
        entry = self._current.setdefault(key, _Expiring(self._cache_seconds, self._clock))
        return await entry.get(lambda: self._current_template(key))

    async def _all_rules(self) -> dict[str, Rule]:
        async def load() -> dict[str, Rule]:
            return {doc["_id"]: _rule_from(doc) for doc in await self.rules_coll.find()}

        return await self._rules.get(load)

    def _forget(self) -> None:
        self._rules.clear()
        self._current.clear()

    # -- reads (from the store) ------------------------------------------------------------------

    async def _current_template(self, key: str) -> TemplateVersion | None:
        docs = await self.templates_coll.find({"key": key}, sort=[("number", -1)], limit=1)
        return _template_from(docs[0]) if docs else None

    async def template_versions(self, key: str) -> list[TemplateVersion]:
        """Every version of a template, oldest first (empty: no such template)."""
        docs = await self.templates_coll.find({"key": key}, sort=[("number", 1)])
        return [_template_from(d) for d in docs]

    async def templates(self) -> list[TemplateVersion]:
        """The current version of every template, by key."""
        current: dict[str, TemplateVersion] = {}
        for doc in await self.templates_coll.find(sort=[("key", 1), ("number", 1)]):
            current[doc["key"]] = _template_from(doc)
        return list(current.values())

    async def rules_using(self, key: str) -> list[Rule]:
        return [_rule_from(d) for d in await self.rules_coll.find({"template": key}, sort=[("_id", 1)])]

    # -- writes ----------------------------------------------------------------------------------

    async def save_template(self, key: str, texts: Mapping[Language, ChannelTexts], note: str, by: str,
                            based_on: int | None) -> SavedTemplate:
        """Save `texts` as the next version of `key` (version 1 for a new key). Refused with TemplateError
        if the texts are wrong or use a value one of the rules sending this template lacks; StaleVersion if
        `based_on` is given and is not the current version (or another editor saved first)."""
        current = await self._current_template(key)
        current_version = current.version if current else None
        if based_on is not None and based_on != current_version:
            raise StaleVersion(key, based_on, current_version)
        lengths = check_template(texts, allowed=None, sms_max_parts=self.sms_max_parts)
        used = placeholders_in(texts)
        problems = [p for rule in await self.rules_using(key) for p in placeholder_problems(rule.event_type, used)]
        if problems:
            raise TemplateError(problems)
        template = SavedTemplate(key=key, version=(current_version or 0) + 1, texts=dict(texts), note=note,
                                 created_by=by, created_at=utcnow(), sms=lengths)
        try:
            await self.templates_coll.insert(_template_doc(template))
        except DuplicateKey:
            raise StaleVersion(key, based_on if based_on is not None else current_version,
                               template.version) from None
        self._forget()
        log.info("template saved", extra={"template": key, "version": template.version})
        return template

    async def save_rule(self, event_type: str, template: str, channels: list[Channel], audience: Audience,
                        enabled: bool, by: str) -> Rule:
        """Create or replace the rule of `event_type` (the last writer wins; version 1: it is new).
        RuleError if the event type is unknown, the template missing or not fillable by the event."""
        check_event_type(event_type)
        check_rule(event_type, template, await self._current_template(template))
        for _ in range(5):
            existing = await self.rules_coll.get(event_type)
            rule = Rule(event_type=event_type, template=template, channels=channels, audience=audience,
                        enabled=enabled, version=(existing["version"] + 1) if existing else 1, changed_by=by,
                        changed_at=utcnow())
            try:
                if existing is None:
                    await self.rules_coll.insert(_rule_doc(rule))
                else:
                    await self.rules_coll.save(_rule_doc(rule), expected_version=existing["version"])
            except (DuplicateKey, VersionConflict):
                continue  # another editor saved meanwhile: replace theirs, as a PUT does
            self._forget()
            log.info("rule saved", extra={"event_type": event_type, "template": template, "enabled": enabled})
            return rule
        raise VersionConflict(f"rule {event_type} kept changing while being saved")
