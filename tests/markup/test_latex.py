"""LaTeX formulas as a reader sees them in a Telegram message or a post."""

from __future__ import annotations

import pytest

from markup import latex_to_unicode


@pytest.mark.parametrize(
    ("latex", "expected"),
    [
        (r"\Rightarrow", "⇒"),
        (r"10^{-4}", "10⁻⁴"),
        (r"\mathbb{R}^d", "ℝᵈ"),
        (r"p_c \in [0, 1]", "p_c ∈ [0, 1]"),
        (r"0.0005 \cdot \varepsilon", "0.0005 · ε"),
        (r"p = 2n+d", "p = 2n+d"),
        (r"x_i", "xᵢ"),
        (r"x^2", "x²"),
        (r"x_{ij}^{2}", "xᵢⱼ²"),
        (r"x^{ab}", "xᵃᵇ"),
        (r"x^{aq}", "x^(aq)"),
        (r"W^\top x", "Wᵀ x"),
        (r"\alpha, \beta, \Gamma, \omega, \vartheta", "α, β, Γ, ω, ϑ"),
        (r"a \leq b \geq c \neq d \approx e", "a ≤ b ≥ c ≠ d ≈ e"),
        (r"x \to y \mapsto z \Leftrightarrow w", "x → y ↦ z ⇔ w"),
        (r"a \times b \pm c", "a × b ± c"),
        (r"\sum_{i=1}^{n} x_i^2", "∑ᵢ₌₁ⁿ xᵢ²"),
        (r"\forall x \exists y", "∀ x ∃ y"),
        (r"\nabla f, \partial x, \infty, \ell", "∇f, ∂x, ∞, ℓ"),
        (r"\log p + \exp(x) + \max_i", "log p + exp(x) + maxᵢ"),
        (r"\mathbb{N} \subset \mathbb{Z} \subseteq \mathbb{Q} \subset \mathbb{C}", "ℕ ⊂ ℤ ⊆ ℚ ⊂ ℂ"),
        (r"\mathbb{E}[X], \mathbb{P}(A)", "𝔼[X], ℙ(A)"),
        (r"\mathcal{L}(\theta)", "ℒ(θ)"),
        (r"\mathbf{x} + \mathrm{d}t + \text{if } y", "x + dt + if y"),
        (r"\operatorname*{argmax}_\theta", "argmax_θ"),
        (r"\sqrt{x}", "√x"),
        (r"\sqrt{x+1}", "√(x+1)"),
        (r"\sqrt[3]{x}", "∛x"),
        (r"\frac{a}{b}", "a/b"),
        (r"\frac{a+b}{c+d}", "(a+b)/(c+d)"),
        (r"\frac{\partial L}{\partial w}", "∂L/∂w"),
        (r"\hat{y} = \bar{x} + \tilde{z}", "ŷ = x̄ + z̃"),
        (r"\vec{v}", "v⃗"),
        (r"\{1,\, 2\}", "{1, 2}"),
        (r"a \quad b", "a b"),
        (r"\not\in \notin \sim \equiv \propto", "∉ ∉ ∼ ≡ ∝"),
        (r"\left( x \right)", "( x )"),
        (r"\foo{bar}", "foobar"),
    ],
)
def test_formulas(latex: str, expected: str) -> None:
    assert latex_to_unicode(latex) == expected


@pytest.mark.parametrize(
    "hostile",
    [
        "{" * 10_000,
        "}" * 10_000,
        r"\sqrt" * 5_000,
        r"\frac" * 5_000,
        "^" * 1000,
        "_{" * 5_000,
        "\\",
        r"\begin{array}",
        r"\sqrt[",
        "x^",
        r"\mathbb{",
        "\x00\ud800",
    ],
)
def test_hostile_latex_never_raises(hostile: str) -> None:
    assert isinstance(latex_to_unicode(hostile), str)
