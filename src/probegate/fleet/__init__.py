"""The fleet view: several probegate instances, each probing on its own, seen as one.

`instances` says which instances to ask (`--url`, `--instances FILE`, tokens), `fetch` asks them,
`join` (pure) turns their answers into one document, `render` draws it in a terminal and
`dashboard` serves it to a browser (`probegate dashboard`).
"""
