"""Stories: which story an alerted item tells, and what each channel gets of it.

The stage's one entry point is `desk.StoryDesk.file` (the pipeline calls it with an item and its
matches; the story's plan comes out, filed in the store with its alerts). Inside, pure parts and
state, one job each:

- `cluster`: the same-story score (text, organizations, events, bridged terms across languages);
- `book`: the stories of the window in memory, kept in step with the store;
- `route`: which channels get a parent, a reply, an update or a digest entry (pure);
- `digest`: channel policies, quiet hours and the digest message (pure).

Storage sits behind `service.store.stories.StoryStore`. This file imports nothing, so that the store
and the settings can import the pure parts without loading the desk.
"""
