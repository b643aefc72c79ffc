"""A citizen's choices: which channels they are told on, and in which language."""

from pydantic import BaseModel, ConfigDict

from kit.store import DocumentStore, DuplicateKey, VersionConflict

from notification.domain import Channel, Language

PREFERENCES = "preferences"


class Preferences(BaseModel):
    in_app: bool = True
    email: bool = True
    sms: bool = True
    language: Language = "vi"

    def allows(self, channel: Channel) -> bool:
        return bool(getattr(self, channel))


class PreferencesUpdate(BaseModel):
    """Only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    in_app: bool | None = None
    email: bool | None = None
    sms: bool | None = None
    language: Language | None = None


class PreferenceStore:
    def __init__(self, store: DocumentStore):
        self.coll = store.collection(PREFERENCES)

    async def get(self, account: str | None) -> Preferences:
        """The account's choices; the defaults (every channel, Vietnamese) for none or no account."""
        doc = await self.coll.get(account) if account else None
        return Preferences.model_validate(doc) if doc else Preferences()

    async def update(self, account: str, change: PreferencesUpdate) -> Preferences:
        for _ in range(5):  # a concurrent change of the same account: read again and re-apply
            doc = await self.coll.get(account)
            current = Preferences.model_validate(doc) if doc else Preferences()
            updated = current.model_copy(update=change.model_dump(exclude_none=True))
            try:
                if doc is None:
                    await self.coll.insert({"_id": account, **updated.model_dump()})
                else:
                    await self.coll.save({"_id": account, **updated.model_dump()}, doc["version"])
                return updated
            except (DuplicateKey, VersionConflict):
                continue
        raise VersionConflict(f"preferences of {account} keep changing")
