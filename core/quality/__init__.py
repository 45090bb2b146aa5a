"""Object expansion, automatic quality control and evaluation.

Public API (import from the submodules; nothing heavy is imported here):
- ``packshot.core.quality.metric``: ``expansion(input_mask, output_mask) -> ExpansionScore`` (fields
  ``expansion`` = paper's E as a fraction of the image, ``expansion_object`` = E as a fraction of
  the product, ``signed`` = the notebook's mean(out>127) - mean(in>127), ``iou``, pixel areas),
  ``as_bool_mask``, ``signed_expansion``, ``iou``.
- ``packshot.core.quality.resegment``: ``Resegmenter`` protocol (``segment(image, input_mask) -> bool mask``),
  ``SamResegmenter`` (SAM from the input mask's points + widened box), ``MaskerResegmenter``
  (classic prior or any masker), ``build_resegmenter(kind, store, ...)``.
- ``packshot.core.quality.qc``: ``QCSettings(threshold=0.10, measure="object", retries=0)``,
  ``QualityGate(resegmenter, settings)`` with ``.check(image, mask, seed)`` and
  ``.run(generate: Callable[[int], image], mask, seed, first_image=None)`` -> ``QCResult``
  (image, seed, score, flagged, attempts, ``.record()`` for the project store), ``retry_seed``.
- ``packshot.core.quality.evaluate``: ``run_eval(...)`` behind ``packshot eval`` (core/cli/eval_cmd.py).
"""
