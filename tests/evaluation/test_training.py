"""The in-training evaluator: the lenient rule, strict/lenient/boxed counting, and the callback schedule."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from trl_reasoning.evaluation import training
from trl_reasoning.evaluation.generation import Completion
from trl_reasoning.evaluation.training import EvalCallback, HeldOutEvaluator, last_number, lenient_correct


@pytest.mark.parametrize(
    ("response", "expected"),
    [("3 + 5 = 8", "8"), ("3 + 5 = 8.", "8"), ("It is -4 degrees", "-4"), ("total 1,250 apples", "1,250"),
     ("x = 2.5 then 3, 5", "5"), ("no digits", None), ("value .5", ".5"), ("\\boxed{12}", "12")],
)
def test_last_number(response, expected):
    assert last_number(response) == expected


@pytest.mark.parametrize(
    ("response", "reference", "expected"),
    [("3 + 5 = 8", "8", True), ("so 8.0", "8", True), ("8 then 9", "8", False), ("1,250", "1250", True),
     ("-3", "-3", True), ("\\boxed{8}", "8", True), ("nothing", "8", False), ("1/2", "\\frac{1}{2}", False),
     ("0.5", "0.5", True)],
)
def test_lenient_correct(response, reference, expected):
    assert lenient_correct(response, reference) is expected


def test_evaluator_counts_strict_lenient_boxed_and_length(monkeypatch):
    rows = [{"problem": f"p{i}", "answer": "8"} for i in range(4)]
    texts = ["\\boxed{8}", "3 + 5 = 8", "\\boxed{7}, no wait 8", "I do not know"]

    def scripted_generate(self, prompts, settings):
        assert settings.greedy and settings.n == 1 and settings.max_new_tokens == 16
        return [[Completion(text, 10 + i, "stop")] for i, text in enumerate(texts)]

    monkeypatch.setattr(training.TransformersBackend, "generate", scripted_generate)
    evaluator = HeldOutEvaluator(rows, template="plain", max_new_tokens=16, batch_size=4)
    result = evaluator(model=SimpleNamespace(generate=None), tokenizer=None)
    assert result == {"accuracy": 0.25, "lenient_accuracy": 0.75, "boxed_rate": 0.5, "mean_length": 11.5,
                      "num_problems": 4}
    assert evaluator.last_responses == texts


def test_evaluator_on_the_tiny_model(tiny_model_and_tokenizer):
    model, tokenizer = tiny_model_and_tokenizer
    model.train()
    evaluator = HeldOutEvaluator([{"problem": "What is 1 + 1?", "answer": "2"}] * 2, max_new_tokens=4)
    result = evaluator(model, tokenizer)
    assert 0 <= result["lenient_accuracy"] <= 1 and 1 <= result["mean_length"] <= 4
    assert result["accuracy"] <= result["lenient_accuracy"]
    assert model.training  # the evaluator puts the model back in training mode
    model.eval()


def test_evaluator_refuses_rows_without_answers():
    with pytest.raises(ValueError, match="need 'problem' and 'answer'"):
        HeldOutEvaluator([{"problem": "x"}])


def test_callback_schedule():
    calls = []
    callback = EvalCallback(lambda model, tokenizer: {"accuracy": len(calls)}, every_steps=2,
                            on_result=lambda step, result: calls.append(step))
    state = SimpleNamespace(global_step=0)
    kwargs = {"model": object(), "processing_class": object()}
    callback.on_train_begin(None, state, None, **kwargs)
    for step in range(1, 5):
        state.global_step = step
        callback.on_step_end(None, state, None, **kwargs)
    callback.on_train_end(None, state, None, **kwargs)  # step 4 was already evaluated
    assert calls == [0, 2, 4]
    state.global_step = 5
    callback.on_train_end(None, state, None, **kwargs)
    assert calls == [0, 2, 4, 5] and [step for step, _ in callback.history] == calls
