"""The tokenproof dev kit: everything needed to run and test tokenproof on one machine, offline.

A separate distribution (``tokenproof-devkit``) so that ``pip install tokenproof`` carries none of
its recorded data. It may import the product; no product module imports it.

- ``provider``  the local OpenAI/Anthropic wire-compatible replay server (``tokenproof provider``)
- ``demo``      the main job (``tokenproof demo``): the whole loop on the embedded store
- ``examples``  example input files built from the recorded corpus (proof Batch files, the
                example app's inputs)

The ``provider`` and ``demo`` commands reach the ``tokenproof`` CLI through the
``tokenproof.commands`` entry-point group (see devkit/pyproject.toml).
"""
