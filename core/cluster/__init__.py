"""Running the batch across machines (Ray). Imported only when ``--ray`` asks for it."""
