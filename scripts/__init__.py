"""The spaCy project's steps (project.yml), run from the project root as
`python -m scripts.NAME ...`. Not part of the installed spacy-elmo distribution.
"""
