"""How a problem becomes a prompt: one value object, built from a recipe's ``data`` section (or an ``eval``
benchmark's settings), that every path renders with: training rows, SFT rows, in-run and ``trl-reason eval``
evaluation, and plugins that re-render a prompt (QuestA's hints, through ``trainer.prompt_format``)::

    fmt = PromptFormat.from_section(recipe.data)   # template, system_prompt, user_template, few_shot
    fmt.render("What is 2 + 3?")                   # chat templates: messages; plain and literal formats: a string
    fmt.to_text(tokenizer, "What is 2 + 3?")       # the text a model is given (the chat template applied)

Templates: ``chat`` (the model's own chat template), ``qwen25-math-cot`` (chat with Qwen2.5-Math's CoT system
prompt unless one is set), ``custom`` (chat; the system prompt and user template as given), ``plain`` (one string),
and the literal LLaMA-Factory formats of ``LITERAL_TEMPLATES``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from trl_reasoning.data.errors import DataError

QWEN25_MATH_COT_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
# LLaMA-Factory's literal prompt formats that the Flexible Realignment authors trained with (`template: deepseek` for
# TrRa, `deepseek3` for InRa): (system format, user turn ending where the response begins). They render as one string,
# so no chat template can rewrite the response: the tokenizer's BOS starts the sequence and TRL's SFT appends the EOS,
# as LLaMA-Factory's prefix and assistant formats do (trainers/sft.py).
LITERAL_TEMPLATES = {
    "deepseek": ("{system}\n\n", "User: {user}\n\nAssistant:"),
    "deepseek3": ("{system}", "<\uff5cUser\uff5c>{user}<\uff5cAssistant\uff5c>"),
}
TEMPLATES = ("chat", "qwen25-math-cot", "plain", "custom", *LITERAL_TEMPLATES)


@dataclass(frozen=True)
class PromptFormat:
    """A prompt template with its system prompt, user template (``{problem}`` is replaced) and worked examples
    (``problem``/``solution`` rows shown as earlier turns)."""

    template: str = "chat"
    system_prompt: str | None = None
    user_template: str = "{problem}"
    few_shot: tuple[dict, ...] = ()

    def __post_init__(self):
        if self.template not in TEMPLATES:
            raise DataError(f"unknown template {self.template!r}; known: {', '.join(TEMPLATES)}")
        object.__setattr__(self, "few_shot", tuple(self.few_shot or ()))
        if self.few_shot and self.template in LITERAL_TEMPLATES:
            raise DataError(f"template {self.template!r} renders one user turn; few_shot needs a chat template")

    @classmethod
    def from_section(cls, section) -> PromptFormat:
        """From a recipe's ``data`` section (or any object with ``template``, ``system_prompt``,
        ``user_template`` and ``few_shot``; missing ones take their defaults)."""
        return cls(template=getattr(section, "template", "chat"),
                   system_prompt=getattr(section, "system_prompt", None),
                   user_template=getattr(section, "user_template", None) or "{problem}",
                   few_shot=tuple(getattr(section, "few_shot", None) or ()))

    @classmethod
    def from_template(cls, template: str | dict = "qwen25-math-cot", system_prompt: str | None = None,
                      user_template: str | None = "{problem}", few_shot=None) -> PromptFormat:
        """From evaluation settings, where ``template`` may also be a ``{system, user}`` mapping (a custom chat
        prompt whose entries replace ``system_prompt`` and ``user_template``)."""
        if isinstance(template, dict):
            unknown = set(template) - {"system", "user"}
            if unknown:
                raise ValueError(f"a template dict takes the keys 'system' and 'user', got also {sorted(unknown)}")
            system_prompt = template.get("system", system_prompt)
            user_template = template.get("user", user_template)
            template = "custom"
        return cls(template, system_prompt, user_template or "{problem}", tuple(few_shot or ()))

    def replace(self, **changes) -> PromptFormat:
        return dataclasses.replace(self, **changes)

    @property
    def conversational(self) -> bool:
        """Whether ``render`` gives chat messages (else one string: ``plain`` and the literal formats)."""
        return self.template != "plain" and self.template not in LITERAL_TEMPLATES

    @property
    def literal(self) -> bool:
        return self.template in LITERAL_TEMPLATES

    def user_text(self, problem: str) -> str:
        return self.user_template.replace("{problem}", problem)

    def render(self, problem: str) -> str | list[dict]:
        """The prompt for one problem: conversational messages (chat templates) or a plain string (``plain``, and
        the literal formats ``deepseek``: ``User: {problem}\\n\\nAssistant:`` and ``deepseek3``:
        ``<\uff5cUser\uff5c>{problem}<\uff5cAssistant\uff5c>``).

        ``few_shot`` rows become earlier user/assistant turns (or, for ``plain``, "problem\\nsolution" paragraphs):
        the cheapest way to make a weak model show the answer format in its samples."""
        user = self.user_text(problem)
        shots = [(self.user_text(str(ex["problem"])), str(ex["solution"])) for ex in self.few_shot]
        if self.template == "plain":
            return "".join(f"{q}\n{a}\n\n" for q, a in shots) + user
        if self.literal:
            system_format, user_format = LITERAL_TEMPLATES[self.template]
            system = system_format.replace("{system}", self.system_prompt) if self.system_prompt else ""
            return system + user_format.replace("{user}", user)
        system = self.system_prompt
        if self.template == "qwen25-math-cot" and system is None:
            system = QWEN25_MATH_COT_SYSTEM
        messages = [{"role": "system", "content": system}] if system else []
        for question, answer in shots:
            messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        return messages + [{"role": "user", "content": user}]

    def to_text(self, tokenizer, problem: str) -> str:
        """The text a model is given: ``render``, then the tokenizer's chat template for messages."""
        rendered = self.render(problem)
        if isinstance(rendered, str):
            return rendered
        if tokenizer is None or getattr(tokenizer, "chat_template", None) is None:
            raise ValueError(f"template {self.template!r} renders chat messages, which need a tokenizer with a chat "
                             "template; use --template plain for a base model without one")
        return tokenizer.apply_chat_template(rendered, tokenize=False, add_generation_prompt=True)


def render_prompt(problem: str, template: str = "chat", *, system_prompt: str | None = None,
                  user_template: str = "{problem}", few_shot: list[dict] | None = None) -> list[dict] | str:
    """``PromptFormat(template, system_prompt, user_template, few_shot).render(problem)`` (the older spelling)."""
    return PromptFormat(template, system_prompt, user_template, tuple(few_shot or ())).render(problem)
