"""How the simulated people and staff behave: seeded random choices in proportions like the
Groningen results table (DOMAIN.md: 1,427 approached, 877 spoken, 375 socially active of whom
125 with participation potential, 69 work potential, 433 not socially active of whom 237 with
potential; referrals 168 / 52 / 43 / 39 / 48; 102 became active)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# At the appointment (of 1,427 approached, 877 spoken: about 61 %).
APPOINTMENT = {"held": 52, "not_home": 22, "declined": 14, "unreachable": 12}
CLASSIFICATION = {"socially_active": 375, "work_potential": 69, "not_active": 433}
# Participation potential given the class: 125 of 375 and 237 of 433; work potential has none
# in the council's sense (counted apart), though a few say they want to do more.
POTENTIAL = {
    "socially_active": {"none": 250, "self": 60, "supported": 65},
    "not_active": {"none": 196, "self": 100, "supported": 137},
    "work_potential": {"none": 40, "self": 20, "supported": 9},
}
# Referrals per partner (168, 52, 43, 39, 48 of 877 spoken).
PARTNER = {"coach_meedoen": 168, "wijkwerkmakelaar": 52, "centrum_naar_werk": 43,
           "wij_team": 39, "ontheffing_review": 48}
# After the conversation: referred (350 of 877), acts themselves, nothing needed.
AFTER_TALK = {"refer": 40, "self_action": 25, "close": 35}
AFTER_REFERRAL = {"start_activity": 40, "no_interest": 35, "referred_elsewhere": 5, "wait": 20}
ACTIVITY = {"volunteering": 40, "participation_job": 20, "work": 15,
            "part_time_self_employment": 5, "education": 10, "other": 10}
AFTER_ACTIVITY = {"follow_up": 30, "record_outflow": 12, "stay": 58}
RECORDED_LATE = 0.1  # the outcome of an appointment is recorded a few workdays late
CALL = {"reached": 70, "not_reached": 25, "wrong_number": 5}
# Follow-up calls (nabellen): more than half unreachable after two rounds.
FOLLOW_UP_CALL = {"not_reached": 55, "reached": 45}
FOLLOW_UP_RESULT = {"became_active": 30, "taking_steps": 35, "not_active": 25,
                    "to_social_team": 10}
CALL_LEFT = 0.1  # a call nobody gets round to making
CONSENT_RECORD_REPORT = 0.85
CONSENT_TO_SHARE = 0.9  # of those referred: consent to share with the partner
# Per open case and workday.
DECLINE_BEFORE = 0.004  # calls to say they will not come
RESCHEDULE = 0.004  # calls to move the appointment
RESCHEDULE_SOON = 0.3  # ... to the next workday
MOVED = 0.0003
DECEASED = 0.0001
# Someone calls to say the person died or moved away: the case worker flags them; the case
# is closed a few workdays later.
FLAGGED = 0.0004
WITHDRAW = 0.002  # withdraws consent to share after a referral

# The route-driven season (every route but Kansen in Kaart; casework.simulation.routes).
ROUTE_STEP = 0.06  # per open case and workday: its case worker takes a step ...
ROUTE_WAIT = 0.004  # ... or in a state with planned work (that mostly moves it)
FORWARD = 30  # the weight of each possible step that does not end the case ...
ENDING = 1  # ... and of each that does (decline, close, a last check)
ONLY_ENDING = 0.1  # a case that can only be ended (or is kept out) is ended that day
ACCEPTED_FIELD = 0.6  # a field the step accepts (but does not need) is filled in
CONSENT_GIVEN = 0.9  # a consent the step needs is recorded (else the rule refuses it)
OVERRIDE = 0.05  # the coordinator approaches an excluded person anyway (with a note)
ROUTE_FLAGGED = 0.02  # of the cases that get a step: the person moved away or died
SPEND = 0.04  # money is spent from the route's budget on a case that gets a step
BUDGET_PER_PERSON = 150  # euro per person in the season, each year
TASK_OUTCOME = {"done": 60, "reached": 30, "not_reached": 25, "wrong_number": 5}


@dataclass
class Behaviour:
    """The seeded random source of one season; every choice goes through it."""

    rng: random.Random

    @classmethod
    def seeded(cls, seed: int) -> Behaviour:
        return cls(random.Random(seed))

    def pick(self, weights: dict[T, int]) -> T:
        return self.rng.choices(list(weights), list(weights.values()))[0]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def between(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def one_of(self, items: list[T]) -> T:
        return items[self.rng.randrange(len(items))]
