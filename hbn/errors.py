"""Errors about a dataset's files, shared by every loader (hbn.data, hbn.tinyimagenet)."""


class DataUnavailable(RuntimeError):
    """The dataset's files are missing and could not be obtained."""


class DataCorrupt(RuntimeError):
    """A dataset file failed its checksum or could not be parsed; it was not loaded."""
