"""The reply templates page for admins (`/staff/templates`): list, create, edit and
delete the questions and replies coordinators pick in the case file, each in English
and Russian. The rules (key format, placeholders, a key used once) are in
`service.cases.reply_templates`; a refusal is shown on the field it names."""
from __future__ import annotations

import logging
from typing import Final

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from forms.staff_templates import TemplateForm
from service.accounts.guard import current_staff, staff_required
from service.accounts.roles import ADMIN
from service.blueprints import private
from service.cases import reply_templates
from service.extensions import db
from service.models import ReplyTemplate
from service.models.message import PLACEHOLDERS

log = logging.getLogger(__name__)

bp = Blueprint("staff_templates", __name__, url_prefix="/staff/templates")
bp.after_request(private)

# A refusal's "Field: …" prefix → the form field it is shown on.
_FIELDS: Final = {"Key": "key", "Title": "title", "Kind": "kind", "English text": "body_en", "Russian text": "body_ru"}


def _template_or_404(template_id: int) -> ReplyTemplate:
    template = db.session.get(ReplyTemplate, template_id)
    if template is None:
        abort(404, "There is no such reply template.")
    return template


def _edit_page(form: TemplateForm, template: ReplyTemplate | None, status: int = 200) -> tuple[str, int]:
    return render_template(
        "staff/reply_templates/edit.html", form=form, template=template,
        placeholders=["{" + name + "}" for name in PLACEHOLDERS],
    ), status


def _save(form: TemplateForm, template: ReplyTemplate | None) -> Response | tuple[str, int]:
    """Validate and save, or the form again with each problem under its field."""
    if not form.validate_on_submit():
        return _edit_page(form, template, 422)
    try:
        saved = reply_templates.save(
            template, key=form.key.data, title=form.title.data, kind=form.kind.data,
            body_en=form.body_en.data, body_ru=form.body_ru.data,
        )
    except reply_templates.TemplateRefused as exc:
        db.session.rollback()
        field = form[_FIELDS.get(str(exc).split(":", 1)[0], "key")]
        field.errors = [*field.errors, str(exc)]
        return _edit_page(form, template, 422)
    db.session.commit()
    log.info("reply template %s saved by %s", saved.key, current_staff().email)
    flash(f"Template \u201c{saved.title}\u201d saved.", "success")
    return redirect(url_for("staff_templates.index", _anchor=f"template-{saved.key}"), 303)


@bp.get("")
@staff_required(ADMIN)
def index() -> str:
    return render_template("staff/reply_templates/index.html", templates=reply_templates.all_templates())


@bp.get("/new")
@staff_required(ADMIN)
def new() -> tuple[str, int]:
    return _edit_page(TemplateForm(formdata=None), None)


@bp.post("/new")
@staff_required(ADMIN)
def create() -> Response | tuple[str, int]:
    return _save(TemplateForm(), None)


@bp.get("/<int:template_id>")
@staff_required(ADMIN)
def edit(template_id: int) -> tuple[str, int]:
    template = _template_or_404(template_id)
    return _edit_page(TemplateForm(formdata=None, obj=template), template)


@bp.post("/<int:template_id>")
@staff_required(ADMIN)
def update(template_id: int) -> Response | tuple[str, int]:
    return _save(TemplateForm(), _template_or_404(template_id))


@bp.post("/<int:template_id>/delete")
@staff_required(ADMIN)
def delete(template_id: int) -> Response:
    """Messages already sent keep their text; only the template goes."""
    template = _template_or_404(template_id)
    title, key = template.title, template.key
    reply_templates.delete(template)
    db.session.commit()
    log.info("reply template %s deleted by %s", key, current_staff().email)
    flash(f"Template \u201c{title}\u201d deleted.", "success")
    return redirect(url_for("staff_templates.index"), 303)
