"""The park section: the park's name, time zone, language and reference prefix."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field

from daemon.config.fields import ReferencePrefix, Section, Text, TimeZoneName


class ParkConfig(Section):
    name: Text = Field(description="the park's name as tenants see it, e.g. 东湖科技产业园")
    timezone: TimeZoneName = Field(description="the park's IANA time zone, e.g. Asia/Shanghai")
    language: Literal["zh-CN", "en"] = "zh-CN"
    reference_prefix: ReferencePrefix = Field(
        "C", description="1 to 6 letters or digits that start every reference number, e.g. C")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
