"""Languages with needs of their own, each one declaration registered by its code under the
entry-point group `stabreport.languages` (stabreport's own below): the font that draws its script
in the figures, and whether its sentences join without a space. A language that declares
nothing (French, say) needs only its catalogue: it gets the defaults."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.registry import Registry


@dataclass(frozen=True)
class Language:
    name: str  # its code, as in the config's `languages:` and locales/<code>[_<TERRITORY>]/
    # The font that draws its script, where DejaVu Sans does not: (family, file names to look for).
    font: tuple[str, tuple[str, ...]] | None = None
    # Its full-width punctuation takes no space after it, and a line break between two of its
    # characters reads as a space: where two messages meet, the space between them goes.
    spaceless: bool = False


LANGUAGES: Registry[Language] = Registry("stabreport.languages", "language", Language)


def language(code: str) -> Language:
    """The declaration of `code`, or the defaults for a language that declares nothing."""
    return LANGUAGES.get(code) if code in LANGUAGES else Language(code)


_CJK = ("NotoSansCJK-Regular.ttc",)
ENGLISH = Language("en")
CHINESE = Language("zh", ("Noto Sans CJK SC", (*_CJK, "NotoSansCJKsc-Regular.otf")), spaceless=True)
JAPANESE = Language("ja", ("Noto Sans CJK JP", (*_CJK, "NotoSansCJKjp-Regular.otf")), spaceless=True)
KOREAN = Language("ko", ("Noto Sans CJK KR", (*_CJK, "NotoSansCJKkr-Regular.otf")))
