"""The trip, from the chosen quote to the flight home: who travels and each leg of the
journey (flights, stay, transfers, interpreter, the clinic's dates). Written by staff
(and the clinic's dates by the chosen clinic); read by the patient's status page, the
calendar, the itinerary and the visa letters."""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.extensions import db
from service.models.types import UTCDateTime, utcnow


class TravellerRole(StrEnum):
    PATIENT = "patient"
    COMPANION = "companion"


class Traveller(db.Model):
    """One person on the trip. Everything from the passport is sealed at rest
    (`service.cases.secrets_box`): ``sealed`` is the JSON of `service.cases.trip.Passport`."""

    __tablename__ = "travellers"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    role: Mapped[str] = mapped_column(String(12))
    position: Mapped[int] = mapped_column(Integer, default=0)  # the patient 0, companions from 1
    sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LegKind(StrEnum):
    OUTBOUND_FLIGHT = "outbound_flight"
    RETURN_FLIGHT = "return_flight"
    STAY = "stay"
    TRANSFER = "transfer"
    INTERPRETER = "interpreter"
    ADMISSION = "admission"          # the clinic's dates: a day each
    PROCEDURE = "procedure"
    DISCHARGE = "discharge"


class TripLeg(db.Model):
    """One part of the journey, in local time where it happens. A changed leg keeps its
    ``uid`` and has its ``sequence`` raised (calendar programs update the event); a
    removed one is kept with ``cancelled_at`` and published as cancelled."""

    __tablename__ = "trip_legs"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    # Kind-specific facts: airline, flight number, IATA airports; hotel name and address;
    # pick-up place; interpreter's name and language.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Flights, stay, transfers, interpreter: instants in UTC with the IANA zone each was
    # entered in (departure's and arrival's). The clinic's dates: `on_date` only.
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    start_zone: Mapped[str | None] = mapped_column(String(64))
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_zone: Mapped[str | None] = mapped_column(String(64))
    on_date: Mapped[date | None] = mapped_column(Date)
    uid: Mapped[str] = mapped_column(String(80), unique=True)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
