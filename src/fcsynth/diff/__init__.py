"""`fcsynth diff`: compare two versions of the exported dataset (git revisions, experiments or the workspace).

A version is read through `dvc.api` at a revision (a commit, branch, tag or `dvc exp`
name), or straight from the files for the workspace. The report covers conversations
added/removed/changed (records matched by id, compared by a content hash), counts per
selection, the judge score distribution per dimension, tool coverage and the curate
stage's acceptance rate.
"""
