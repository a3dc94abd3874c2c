"""The `notebook` activity: render widget values, run the notebook, output its exit value as `runOutput`."""

from __future__ import annotations

from typing import Any

from lockgate.model.pipeline import NotebookActivity
from lockgate.model.value import render_widget_value
from lockgate.services.activities.context import ActivityContext


def run_notebook_activity(activity: NotebookActivity, context: ActivityContext) -> dict[str, Any]:
    widgets = {
        name: render_widget_value(context.render(value, "parameters", name))
        for name, value in activity.parameters.items()
    }
    notebook = context.project.load_notebook(activity.notebook)
    result = context.runtime.run(notebook, widgets=widgets)
    return {"runOutput": result.exit_value}
