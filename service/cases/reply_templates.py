"""Staff's reply templates: saved questions and replies in English and Russian, filled
for one case in the patient's language before a coordinator sends them. The starting
set is seeded by migration 0011; admins manage the rest on /staff/templates."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select

from service import i18n
from service.extensions import db
from service.models import Case, Referral, ReplyTemplate
from service.models.message import PLACEHOLDERS, TemplateKind
from service.models.status import ReferralStatus

_PLACEHOLDER: Final = re.compile(r"\{([^{}\s]*)\}")
KEY_PATTERN: Final = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class TemplateRefused(ValueError):
    """The template cannot be saved as it is; the message says why."""


def all_templates() -> list[ReplyTemplate]:
    return list(db.session.scalars(select(ReplyTemplate).order_by(ReplyTemplate.kind, ReplyTemplate.title)))


def by_key(key: str) -> ReplyTemplate | None:
    return db.session.scalar(select(ReplyTemplate).where(ReplyTemplate.key == key))


def unknown_placeholders(text: str) -> list[str]:
    """The `{names}` in `text` that are not placeholders we fill."""
    return sorted({name for name in _PLACEHOLDER.findall(text or "") if name not in PLACEHOLDERS})


def unfilled(text: str) -> list[str]:
    """The placeholders still in a text about to be sent (no clinic to name yet)."""
    return sorted({name for name in _PLACEHOLDER.findall(text or "") if name in PLACEHOLDERS})


def _check(key: str, title: str, kind: str, body_en: str, body_ru: str, *, editing: ReplyTemplate | None) -> None:
    if not KEY_PATTERN.match(key or ""):
        raise TemplateRefused("Key: use lower-case letters, digits and hyphens, e.g. missing-xray.")
    if kind not in TemplateKind.__members__.values():
        raise TemplateRefused("Kind: choose question or reply.")
    if not (title or "").strip():
        raise TemplateRefused("Title: give the template a title.")
    for label, body in (("English", body_en), ("Russian", body_ru)):
        if not (body or "").strip():
            raise TemplateRefused(f"{label} text: write the template's text in {label}.")
        unknown = unknown_placeholders(body)
        if unknown:
            names = ", ".join("{" + name + "}" for name in unknown)
            allowed = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
            raise TemplateRefused(f"{label} text: {names} is not a placeholder; use {allowed}.")
    existing = by_key(key)
    if existing is not None and existing is not editing:
        raise TemplateRefused(f"Key: another template already uses {key}.")


def save(template: ReplyTemplate | None, *, key: str, title: str, kind: str, body_en: str, body_ru: str) -> ReplyTemplate:
    """Create (`template` None) or update a template; the caller commits."""
    key, title = (key or "").strip(), (title or "").strip()
    body_en, body_ru = (body_en or "").strip(), (body_ru or "").strip()
    _check(key, title, kind, body_en, body_ru, editing=template)
    if template is None:
        template = ReplyTemplate()
        db.session.add(template)
    template.key, template.title, template.kind = key, title, kind
    template.body_en, template.body_ru = body_en, body_ru
    return template


def delete(template: ReplyTemplate) -> None:
    db.session.delete(template)


def clinic_for(case: Case, referral: Referral | None = None) -> Referral | None:
    """The referral whose clinic `{clinic}` names: the one picked, else the chosen
    quote's, else the only open referral; None when that is not clear."""
    if referral is not None and referral.case_id == case.id:
        return referral
    if case.chosen_quote is not None:
        return case.chosen_quote.referral
    open_referrals = list(db.session.scalars(
        select(Referral).where(Referral.case_id == case.id, Referral.status.in_(ReferralStatus.open()))
    ))
    return open_referrals[0] if len(open_referrals) == 1 else None


def first_name(case: Case) -> str:
    return (case.full_name or "").split()[0] if (case.full_name or "").split() else ""


@dataclass(frozen=True)
class Filled:
    """A template filled for one case: the text to send and what was left open."""

    text: str
    language: str
    unfilled: list[str]


def language_of(case: Case) -> str:
    """The language a template is written to this patient in: Russian for a Russian
    case, English for any other (the templates exist in these two)."""
    return "ru" if i18n.resolve(case.language) == "ru" else "en"


def fill_text(text: str, case: Case, referral: Referral | None = None) -> Filled:
    """`text` with the placeholders filled for `case`; one without a value (no clinic
    picked yet) stays in the text for the coordinator to replace. What the case file's
    preview shows is exactly what "Send" then sends."""
    clinic = clinic_for(case, referral)
    values = {"reference": case.reference, "patient_first_name": first_name(case)}
    if clinic is not None:
        values["clinic"] = clinic.clinic.name
    filled = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text or "")
    return Filled(text=filled, language=language_of(case), unfilled=unfilled(filled))


def fill(template: ReplyTemplate, case: Case, referral: Referral | None = None) -> Filled:
    """The template in the patient's language with the placeholders filled."""
    return fill_text(template.body_ru if language_of(case) == "ru" else template.body_en, case, referral)
