"""The book machinery: what runs the notebooks and makes the report from them.

The notebooks never import this subpackage, and no module of ``mnist_utils`` outside it does
(tests/test_layout.py holds both rules), so editing it re-runs no notebook. In the order a
reader meets them:

- ``cli``: the ``mnist-study`` command.
- ``notebooks``: the notebooks (found by their ``NN_`` prefix), their parameters, the profiles
  and ``-p`` settings that set them, and the upstream artifacts each reads.
- ``pipeline``: the runner: executes the notebooks with papermill into staging and promotes
  what succeeds.
- ``cache``: the digests of a notebook's inputs that decide whether it must run again.
- ``record``: the run record (``report/artifacts/run.json``): why a notebook runs, the profile
  last used, and whether the executed notebooks still agree.
- ``lock``: one run or report build per report folder.
- ``environment``: the Jupyter kernel, nbconvert's configuration, and the machine the run records.
- ``prose``: the notebooks' markdown templates filled with the values their code published,
  in English and in Chinese.
- ``translations``: the Chinese of each markdown cell (``notebooks/zh/``) and when it is out of date.
- ``summary``: the abstract, conclusions and references, from the notebooks' metrics.
- ``report``: the report: the notebooks merged with a cover, abstract, conclusions and appendix,
  rebuilt only when something it shows changed.
- ``formats``: its HTML and its PDF, through nbconvert, pandoc and XeLaTeX.
- ``errors``: the errors every part raises, with a message that says what to do.
- ``templates/``: the report's nbconvert templates and the section templates of the prose.
"""
