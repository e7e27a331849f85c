"""The hooks' fixtures (a git server with a working copy, each hook form), for the trickle test."""

from tests.hooks.conftest import form, git_world  # noqa: F401 - fixtures, used by name
