"""Lookup tables for :mod:`markup.latex`: symbols, scripts, alphabets and accents."""

from __future__ import annotations

GREEK: dict[str, str] = {
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    # Both epsilons read as ε: the lunate ϵ is too easily mistaken for ∈ in plain text.
    "epsilon": "ε",
    "varepsilon": "ε",
    "zeta": "ζ",
    "eta": "η",
    "theta": "θ",
    "vartheta": "ϑ",
    "iota": "ι",
    "kappa": "κ",
    "varkappa": "ϰ",
    "lambda": "λ",
    "mu": "μ",
    "nu": "ν",
    "xi": "ξ",
    "omicron": "ο",
    "pi": "π",
    "varpi": "ϖ",
    "rho": "ρ",
    "varrho": "ϱ",
    "sigma": "σ",
    "varsigma": "ς",
    "tau": "τ",
    "upsilon": "υ",
    "phi": "ϕ",
    "varphi": "φ",
    "chi": "χ",
    "psi": "ψ",
    "omega": "ω",
    "Gamma": "Γ",
    "Delta": "Δ",
    "Theta": "Θ",
    "Lambda": "Λ",
    "Xi": "Ξ",
    "Pi": "Π",
    "Sigma": "Σ",
    "Upsilon": "Υ",
    "Phi": "Φ",
    "Psi": "Ψ",
    "Omega": "Ω",
}

SYMBOLS: dict[str, str] = {
    # arrows
    "Rightarrow": "⇒",
    "rightarrow": "→",
    "to": "→",
    "leftarrow": "←",
    "gets": "←",
    "Leftarrow": "⇐",
    "Leftrightarrow": "⇔",
    "leftrightarrow": "↔",
    "iff": "⇔",
    "implies": "⇒",
    "impliedby": "⇐",
    "mapsto": "↦",
    "longrightarrow": "⟶",
    "longleftarrow": "⟵",
    "Longrightarrow": "⟹",
    "Longleftarrow": "⟸",
    "longmapsto": "⟼",
    "uparrow": "↑",
    "downarrow": "↓",
    "Uparrow": "⇑",
    "Downarrow": "⇓",
    "hookrightarrow": "↪",
    "rightleftharpoons": "⇌",
    # relations
    "leq": "≤",
    "le": "≤",
    "leqslant": "≤",
    "geq": "≥",
    "ge": "≥",
    "geqslant": "≥",
    "neq": "≠",
    "ne": "≠",
    "approx": "≈",
    "sim": "∼",
    "simeq": "≃",
    "cong": "≅",
    "equiv": "≡",
    "propto": "∝",
    "ll": "≪",
    "gg": "≫",
    "prec": "≺",
    "succ": "≻",
    "preceq": "⪯",
    "succeq": "⪰",
    "triangleq": "≜",
    "coloneqq": "≔",
    "doteq": "≐",
    "in": "∈",
    "notin": "∉",
    "ni": "∋",
    "subset": "⊂",
    "subseteq": "⊆",
    "subsetneq": "⊊",
    "supset": "⊃",
    "supseteq": "⊇",
    "models": "⊨",
    "vdash": "⊢",
    "perp": "⊥",
    "parallel": "∥",
    "mid": "∣",
    "nmid": "∤",
    "lt": "<",
    "gt": ">",
    # operators
    "cdot": "·",
    "times": "×",
    "div": "÷",
    "pm": "±",
    "mp": "∓",
    "ast": "∗",
    "star": "⋆",
    "circ": "∘",
    "bullet": "•",
    "oplus": "⊕",
    "ominus": "⊖",
    "otimes": "⊗",
    "odot": "⊙",
    "cup": "∪",
    "cap": "∩",
    "setminus": "∖",
    "wedge": "∧",
    "land": "∧",
    "vee": "∨",
    "lor": "∨",
    "neg": "¬",
    "lnot": "¬",
    "sum": "∑",
    "prod": "∏",
    "coprod": "∐",
    "int": "∫",
    "iint": "∬",
    "iiint": "∭",
    "oint": "∮",
    "bigcup": "⋃",
    "bigcap": "⋂",
    "bigoplus": "⨁",
    "bigotimes": "⨂",
    "bigvee": "⋁",
    "bigwedge": "⋀",
    "partial": "∂",
    "nabla": "∇",
    "infty": "∞",
    "forall": "∀",
    "exists": "∃",
    "nexists": "∄",
    "emptyset": "∅",
    "varnothing": "∅",
    "therefore": "∴",
    "because": "∵",
    "top": "⊤",
    "bot": "⊥",
    "angle": "∠",
    "triangle": "△",
    "ell": "ℓ",
    "hbar": "ℏ",
    "Re": "ℜ",
    "Im": "ℑ",
    "aleph": "ℵ",
    "wp": "℘",
    "prime": "′",
    "degree": "°",
    "dagger": "†",
    "ddagger": "‡",
    "checkmark": "✓",
    "S": "§",
    "P": "¶",
    # dots and delimiters
    "ldots": "…",
    "dots": "…",
    "dotsc": "…",
    "dotsb": "⋯",
    "cdots": "⋯",
    "vdots": "⋮",
    "ddots": "⋱",
    "langle": "⟨",
    "rangle": "⟩",
    "lceil": "⌈",
    "rceil": "⌉",
    "lfloor": "⌊",
    "rfloor": "⌋",
    "vert": "|",
    "lvert": "|",
    "rvert": "|",
    "Vert": "‖",
    "lVert": "‖",
    "rVert": "‖",
    "colon": ":",
    "lbrace": "{",
    "rbrace": "}",
    # spacing
    "quad": "  ",
    "qquad": "  ",
    "enspace": " ",
    "thinspace": " ",
}


def _words(names: str) -> frozenset[str]:
    return frozenset(names.split())


# Operator names printed as plain words.
WORDS = _words(
    "log ln lg exp max min arg argmax argmin sup inf lim liminf limsup det dim ker deg gcd "
    "hom Pr sin cos tan cot sec csc sinh cosh tanh arcsin arccos arctan mod bmod"
)

# Commands dropped entirely: sizing, styles, delimiters' size hints.
DROPPED = _words(
    "left right big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl Biggr middle "
    "displaystyle textstyle scriptstyle limits nolimits nonumber notag label negthinspace"
)

# Commands whose single argument is kept as is (font and text wrappers).
WRAPPERS = _words(
    "mathbf mathrm mathit mathsf mathtt mathnormal boldsymbol bm text textrm textbf textit "
    "textsf texttt textnormal emph mbox operatorname hbox underline underbrace overbrace "
    "mathop mathrel mathbin mathord pmb"
)

# Accents rendered with a combining character after each letter.
ACCENTS: dict[str, str] = {
    "hat": "\u0302",
    "widehat": "\u0302",
    "bar": "\u0304",
    "overline": "\u0305",
    "tilde": "\u0303",
    "widetilde": "\u0303",
    "vec": "\u20d7",
    "overrightarrow": "\u20d7",
    "dot": "\u0307",
    "ddot": "\u0308",
    "check": "\u030c",
    "breve": "\u0306",
    "acute": "\u0301",
    "grave": "\u0300",
}

SUPERSCRIPTS: dict[str, str] = dict(
    zip(
        "0123456789+-−=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVWαβγδεθιφχ′⊤∘",
        "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂᵅᵝᵞᵟᵋᶿᶥᵠᵡ′ᵀ°",
        strict=True,
    )
)

SUBSCRIPTS: dict[str, str] = dict(
    zip(
        "0123456789+-−=()aehijklmnoprstuvxβγρφχ",
        "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓᵦᵧᵨᵩᵪ",
        strict=True,
    )
)


def _alphabet(upper: int, lower: int | None, holes: dict[str, str]) -> dict[str, str]:
    """Map A-Z (and a-z) to a Mathematical Alphanumeric block, patching its holes."""
    table = {chr(ord("A") + i): chr(upper + i) for i in range(26)}
    if lower is not None:
        table.update({chr(ord("a") + i): chr(lower + i) for i in range(26)})
    table.update(holes)
    return table


BLACKBOARD = _alphabet(
    0x1D538,
    0x1D552,
    {"C": "ℂ", "H": "ℍ", "N": "ℕ", "P": "ℙ", "Q": "ℚ", "R": "ℝ", "Z": "ℤ", "1": "𝟙"},
)
CALLIGRAPHIC = _alphabet(
    0x1D49C,
    0x1D4B6,
    {
        "B": "ℬ",
        "E": "ℰ",
        "F": "ℱ",
        "H": "ℋ",
        "I": "ℐ",
        "L": "ℒ",
        "M": "ℳ",
        "R": "ℛ",
        "e": "ℯ",
        "g": "ℊ",
        "o": "ℴ",
    },
)
FRAKTUR = _alphabet(0x1D504, 0x1D51E, {"C": "ℭ", "H": "ℌ", "I": "ℑ", "R": "ℜ", "Z": "ℨ"})
ALPHABETS: dict[str, dict[str, str]] = {
    "mathbb": BLACKBOARD,
    "Bbb": BLACKBOARD,
    "mathds": BLACKBOARD,
    "mathcal": CALLIGRAPHIC,
    "mathscr": CALLIGRAPHIC,
    "mathfrak": FRAKTUR,
}

# Escaped single characters: ``\{`` and friends.
ESCAPED: dict[str, str] = {
    "{": "{",
    "}": "}",
    "%": "%",
    "$": "$",
    "&": "&",
    "#": "#",
    "_": "_",
    "|": "‖",
    ",": " ",
    ";": " ",
    ":": " ",
    ">": " ",
    " ": " ",
    "!": "",
    "\\": "; ",
}
