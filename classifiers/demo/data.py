"""Phrase banks for the demo course DATA201 (written for EduPlatform; not taken from any data set).

Comments are composed from a module-specific subject and a sentiment-bearing remark, with a few
stand-alone comments, so the demo has realistic variety without shipping anyone's real feedback.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

COURSE_CODE = "DATA201"
COURSE_TITLE = "Introduction to Data Science"
TERM = "Spring 2026"
TERM_START = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)

MODULES = [
    ("Python refresher", ["the Python refresher", "the notebook setup", "the first lab"]),
    ("Data wrangling with pandas", ["the pandas lectures", "the merging exercises", "the groupby lab"]),
    ("Visualisation", ["the plotting sessions", "the matplotlib lab", "the dashboard assignment"]),
    ("Probability and statistics", ["the probability lectures", "the hypothesis testing quiz", "the stats recap"]),
    ("Linear regression", ["the regression module", "the least squares derivation", "the housing prices lab"]),
    ("Classification", ["the classification lectures", "the logistic regression lab", "the confusion matrix quiz"]),
    ("Clustering", ["the clustering week", "the k-means lab", "the customer segmentation exercise"]),
    ("Ethics and privacy", ["the ethics seminar", "the privacy case studies", "the fairness reading"]),
    ("Capstone project", ["the capstone project", "the project milestones", "the final presentation"]),
]

POSITIVE = [
    "{s} was really well explained and I finally get it",
    "I enjoyed {s}, the examples were practical and fun",
    "{s} was the highlight of the term for me",
    "loved {s}! clear slides and a great pace",
    "{s} helped me a lot, the worked examples made everything click",
    "Really appreciated how {s} connected theory to real data",
    "{s} was challenging but very rewarding",
    "the tutor made {s} easy to follow, thank you",
]
NEUTRAL = [
    "{s} covered what the syllabus said it would",
    "{s} was okay, some parts were useful and some less so",
    "I would suggest posting the solutions to {s} a bit earlier",
    "{s} took about as long as I expected",
    "Could {s} include one more example on real data next year?",
    "{s} was fine, nothing special either way",
    "not sure yet how {s} fits with the rest of the course",
]
NEGATIVE = [
    "{s} was far too rushed and I got lost halfway",
    "I found {s} confusing and the instructions were unclear",
    "{s} had way too much content for one week",
    "the deadline for {s} clashed with two other courses, very stressful",
    "{s} was boring and the slides were just walls of text",
    "the autograder for {s} kept failing for no reason, really frustrating",
    "{s} felt disconnected from the lectures and I did not see the point",
]
STANDALONE = [
    ("Please contact me at jamie.lee@student.example.edu about my grade", "neutral"),
    ("My student number is 20231234, the portal lost my submission again", "negative"),
    ("Great course overall, follow @data201club for study groups", "positive"),
    ("The forum link https://forum.example.edu/t/123 was down all week", "negative"),
    ("Call me on +44 20 7946 0958 if you need volunteers for the open day", "neutral"),
]

# Modules drift over the term: the demo shows a clustering week that went badly and a strong capstone.
MODULE_MOOD = {"Clustering": (0.2, 0.25, 0.55), "Capstone project": (0.6, 0.25, 0.15)}
DEFAULT_MOOD = (0.45, 0.3, 0.25)


def demo_comments(count: int = 360, seed: int = 201) -> list[dict]:
    """Deterministic demo rows: text, module, submitted_at, external id, sentiment (true label)."""
    rng = random.Random(seed)
    rows: list[dict] = []
    for i in range(count):
        week = i * len(MODULES) // count
        title, subjects = MODULES[week]
        mood = MODULE_MOOD.get(title, DEFAULT_MOOD)
        sentiment = rng.choices(["positive", "neutral", "negative"], weights=mood)[0]
        bank = {"positive": POSITIVE, "neutral": NEUTRAL, "negative": NEGATIVE}[sentiment]
        text = rng.choice(bank).format(s=rng.choice(subjects))
        text = text[0].upper() + text[1:] + rng.choice([".", ".", "!", ""])
        if i % 73 == 5:
            text, sentiment = STANDALONE[(i // 73) % len(STANDALONE)]
        submitted = TERM_START + timedelta(days=week * 12 + rng.randint(0, 11), minutes=rng.randint(0, 600))
        rows.append({"id": f"demo-{i:04d}", "text": text, "module": title,
                     "submitted_at": submitted.isoformat(), "sentiment": sentiment})
    return rows
