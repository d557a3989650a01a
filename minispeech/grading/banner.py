"""A one-line notice that a notebook runs under the ci profile, whose numbers are smoke numbers.

profile_banner   print the notice under the ci profile, nothing under cpu or gpu

The first cell of every lesson calls `profile_banner(profiles.current())`, so a student (or a
CI log) reading a ci run's numbers next to prose measured with the cpu profile knows why they
disagree. Taught in lessons/00_setup_data_text.ipynb, section 1.
"""

from __future__ import annotations

from minispeech.profiles import Profile

CI_BANNER = (
    "ci profile: numbers below are smoke-test numbers from seconds of training; "
    "the lesson's bars and prose refer to the cpu profile"
)


def profile_banner(profile: Profile) -> None:
    """Print CI_BANNER when `profile` is the ci profile; print nothing otherwise."""
    if profile.name == "ci":
        print(CI_BANNER)
