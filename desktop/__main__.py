"""``python -m packshot.desktop [FOLDER]`` starts Packshot Studio."""

from packshot.desktop.app import main

raise SystemExit(main())
