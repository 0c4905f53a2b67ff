"""`fcsynth diff`: compare two versions of the exported dataset (git revisions, experiments or the workspace)."""
