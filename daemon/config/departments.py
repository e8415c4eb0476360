"""Who handles what: the departments, the categories they handle, and the priorities with
their sign-for and resolve deadlines."""

from __future__ import annotations

from datetime import timedelta

from pydantic import EmailStr, Field

from daemon.config.fields import Key, Section, Text


class Department(Section):
    key: Key = Field(description="a short name used elsewhere in this file, e.g. property")
    name: Text = Field(description="the department's name as people see it, e.g. 物业管理部")
    head: EmailStr = Field(description="the department head's email address")
    members: tuple[EmailStr, ...] = Field((), description="the members' email addresses")

    def is_member(self, address: str) -> bool:
        """True if ``address`` is the head's or a member's (case-insensitive)."""
        folded = address.strip().casefold()
        return any(folded == known.casefold() for known in (self.head, *self.members))


class Category(Section):
    key: Key = Field(description="a short name, e.g. facilities")
    name: Text = Field(description="the category as staff see it, e.g. 设施维护")
    department: Text = Field(description="the key of the department that handles it")
    keywords: tuple[Text, ...] = Field((), description="words that point to this category")


class Priority(Section):
    key: Key = Field(description="a short name, e.g. urgent")
    name: Text = Field(description="the priority as staff see it, e.g. 紧急")
    keywords: tuple[Text, ...] = Field((), description="words that point to this priority")
    ack_minutes: int = Field(gt=0, description="minutes a department has to sign for a slip")
    resolve_hours: int = Field(gt=0, description="hours a department has to resolve it")
    serious: bool = False

    @property
    def ack_within(self) -> timedelta:
        return timedelta(minutes=self.ack_minutes)

    @property
    def resolve_within(self) -> timedelta:
        return timedelta(hours=self.resolve_hours)
