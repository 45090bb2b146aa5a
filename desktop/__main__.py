"""``python -m desktop [FOLDER]`` starts Packshot Studio."""

from desktop.app import main

raise SystemExit(main())
