"""Language catalogues. Each module in this package defines ZH and EN dicts for one feature.

`t(lang, key, **values)` renders a text for Telegram's HTML parse mode: every value is
HTML-escaped unless wrapped in `Raw`, so a name holding `<b>` or `&` is shown, not interpreted.
"""

from __future__ import annotations

import html
import importlib
import pkgutil
from typing import Any

from babel import Locale

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
_LOCALES = {lang: Locale.parse(lang) for lang in LANGS}


class Raw(str):
    """A value that is already safe HTML (built from other rendered texts)."""


class Term(str):
    """A catalogue key used as a value (e.g. a field's name): shown in the reader's language."""


def _load() -> dict[str, dict[str, str]]:
    catalogues: dict[str, dict[str, str]] = {"zh": {}, "en": {}}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for lang, attr in (("zh", "ZH"), ("en", "EN")):
            part: dict[str, str] = getattr(module, attr, {})
            clash = catalogues[lang].keys() & part.keys()
            if clash:
                raise RuntimeError(f"text keys defined twice: {sorted(clash)}")
            catalogues[lang].update(part)
    return catalogues


CATALOGUES = _load()


def _escape(value: Any, catalogue: dict[str, str]) -> str:
    if isinstance(value, Term):
        value = catalogue.get(value) or CATALOGUES[DEFAULT_LANG].get(value) or value
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, float):
        value = f"{value:g}"
    return html.escape(str(value), quote=False)


def t(lang: str | None, key: str, **values: Any) -> str:
    """Render `key` in `lang` (falling back to Chinese), values HTML-escaped."""
    catalogue = CATALOGUES.get(lang or DEFAULT_LANG, CATALOGUES[DEFAULT_LANG])
    template = catalogue.get(key) or CATALOGUES[DEFAULT_LANG][key]
    return Raw(template.format(**{name: _escape(v, catalogue) for name, v in values.items()}))


def mention(user_id: int, first_name: str | None) -> Raw:
    """A Telegram display name as a mention link — never the registered real name."""
    name = html.escape(first_name or str(user_id), quote=False)
    return Raw(f'<a href="tg://user?id={int(user_id)}">{name}</a>')


def normalise_lang(code: str | None) -> str | None:
    """Map a Telegram language_code ('zh-hans', 'en-US') to a catalogue, or None."""
    if not code:
        return None
    base = code.lower().split("-")[0].split("_")[0]
    return base if base in LANGS else None


def tn(lang: str | None, key: str, n: float, **values: Any) -> str:
    """`t` of `key_one` or `key_other`, chosen by the language's plural rule for `n` (Babel)."""
    form = _LOCALES[lang if lang in LANGS else DEFAULT_LANG].plural_form(n)
    catalogue = CATALOGUES.get(lang or DEFAULT_LANG, CATALOGUES[DEFAULT_LANG])
    name = f"{key}_{form}" if f"{key}_{form}" in catalogue else f"{key}_other"
    shown = f"{n:g}" if isinstance(n, float) else n
    return t(lang, name, n=shown, **values)
