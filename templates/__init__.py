"""Package data: the templates every report project gets unless it overrides a file by path
(this folder is the package stabreport.templates in the wheel; see stabreport/project.py)."""
