"""The status lookup: its own process over a read model in the cache, fed by dossier events.
It never reads the write side's database."""
