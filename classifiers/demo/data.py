"""The demo course DATA201: comments written for EduPlatform (not taken from any data set), composed from
hand-written fragments so the demo reads like a real term's feedback rather than a template.

Real end-of-module comments keep coming back to the same few things (pacing, lab setup, marking, the exam,
slides, recordings, group work, workload, help from tutors), each module stresses some of them more than
others, and their wording is messy: short or long, mixed ("X was great but Y…"), negated ("not bad at
all"), sarcastic ("Loved debugging conda for three hours."), lower-case, with typos. The generator draws
a module by week, a sentiment from the module's mood, a topic from the module's own mix, then a shape
(one remark, two remarks, a mixed comment, a tricky one) and sometimes a typo. The label is what a careful
annotator would give: a mixed comment takes the sentiment of its last clause, and on balanced ones
annotators split between that and "neutral", as real annotators do. Deterministic for a given seed.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

COURSE_CODE = "DATA201"
COURSE_TITLE = "Introduction to Data Science"
TERM = "Spring 2026"
TERM_START = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
ID_PREFIX = "data201-"  # the external ids of the demo comments ("demo-…" were those of an earlier demo)

SENTIMENTS = ("positive", "neutral", "negative")

# (module title, things students name in it, weight of each topic in its comments, comments in the module)
MODULES: list[tuple[str, list[str], dict[str, int], int]] = [
    (
        "Python refresher",
        ["the Python refresher", "the first lab", "the warm-up exercises"],
        {"setup": 6, "pacing": 3, "tutors": 2, "slides": 1, "recordings": 1},
        70,
    ),
    (
        "Data wrangling with pandas",
        ["the pandas module", "the merging exercises", "the groupby lab"],
        {"workload": 3, "marking": 3, "pacing": 2, "setup": 1, "tutors": 2, "slides": 1},
        70,
    ),
    (
        "Visualisation",
        ["the plotting sessions", "the matplotlib lab", "the dashboard assignment"],
        {"slides": 3, "marking": 3, "recordings": 2, "workload": 1, "tutors": 1},
        60,
    ),
    (
        "Probability and statistics",
        ["the probability unit", "the hypothesis testing quiz", "the stats recap"],
        {"pacing": 4, "exam": 3, "slides": 2, "recordings": 2, "tutors": 2},
        70,
    ),
    (
        "Linear regression",
        ["the regression module", "the least squares derivation", "the housing prices lab"],
        {"exam": 3, "recordings": 3, "pacing": 2, "marking": 2, "slides": 1},
        62,
    ),
    (
        "Classification",
        ["the classification module", "the logistic regression lab", "the confusion matrix quiz"],
        {"marking": 3, "exam": 3, "workload": 2, "slides": 1, "setup": 1},
        62,
    ),
    (
        "Clustering",
        ["the clustering unit", "the k-means lab", "the customer segmentation exercise"],
        {"workload": 4, "pacing": 3, "setup": 2, "marking": 2},
        62,
    ),
    (
        "Ethics and privacy",
        ["the ethics seminar", "the privacy case studies", "the fairness reading"],
        {"slides": 2, "group": 3, "recordings": 2, "workload": 1, "tutors": 1},
        52,
    ),
    (
        "Capstone project",
        ["the capstone project", "the project milestones", "the final presentation"],
        {"group": 6, "marking": 2, "workload": 2, "tutors": 2, "exam": 1},
        90,
    ),
]

# Topic → sentiment → remarks. "{s}" is something of the module (see MODULES); remarks without it are
# about the course in general, as many real comments are.
TOPICS: dict[str, dict[str, list[str]]] = {
    "pacing": {
        "positive": [
            "the pace of {s} was just right, never felt lost",
            "the lecturer slowed down when we asked and that made a big difference",
            "good pacing, enough time to actually try things in class",
            "I liked that {s} built up slowly from simple examples",
            "pace was spot on this time",
            "the lecturer checked we were following before moving on, which I appreciated",
            "nice steady pace in {s}, with breaks for questions",
            "the speed of the lectures felt right for a second year course",
        ],
        "negative": [
            "{s} was far too rushed and I got lost halfway",
            "way too fast, the lecturer skipped half the derivations",
            "the pace of the lectures was brutal, we covered three topics in one hour",
            "we rushed through {s} and spent ages on trivial stuff before it",
            "too much too fast",
            "the last twenty minutes of every lecture were a blur because we were behind schedule",
            "the lectures in {s} went so fast I could not even copy the examples",
            "we spent three weeks on the basics and then crammed {s} into one lecture",
            "the lecturer talks really quickly and moves on before anyone can ask",
        ],
        "neutral": [
            "the pace of {s} was fast but manageable if you did the reading",
            "maybe split {s} over two weeks next year",
            "the lectures could go a bit slower at the start and faster later",
            "a short recap at the start of each lecture would help with the speed",
            "I needed to rewatch {s} to keep up with the pace",
        ],
    },
    "setup": {
        "positive": [
            "the setup guide for the lab environment worked first time on my laptop",
            "installing everything was painless thanks to the step by step instructions",
            "the cloud notebooks meant no installing anything, brilliant",
            "the lab machines had everything installed already, which saved a lot of time",
            "the virtual machine came with every package preinstalled",
            "the install script for {s} just worked on my Mac",
            "good that the lab used the same Python version as the notebooks",
        ],
        "negative": [
            "spent the whole first lab trying to install conda and the packages",
            "the environment setup did not work on Windows and nobody could tell me why",
            "half the lab was wasted on jupyter kernels crashing",
            "the lab computers had the wrong version of pandas installed so the notebook would not run",
            "setting up the environment for {s} took me longer than the exercise itself",
            "my laptop could not run the docker image, had to use a friend's machine",
            "package conflicts in the course environment broke my other projects",
            "the lab PCs log you out every twenty minutes and your notebook is gone",
            "pip kept failing on the university wifi during the lab",
        ],
        "neutral": [
            "please test the install instructions on Windows and Mac before the first lab",
            "the setup instructions for {s} could mention which Python version to use",
            "I used the lab machines because the install on my laptop failed",
            "a list of the required packages before week one would save time in the lab",
            "I ended up using Google Colab instead of the local install",
        ],
    },
    "marking": {
        "positive": [
            "the feedback on my assignment was detailed and told me exactly what to fix",
            "marks for {s} came back within a week with useful comments",
            "the rubric was clear so I knew what was expected",
            "really helpful written feedback on the first assignment",
            "grading was fair and the comments explained every lost mark",
            "the marker left comments on my code that taught me more than the lectures",
            "quick turnaround on the marking for {s}, well done",
            "the grades were released on time and the feedback was specific",
        ],
        "negative": [
            "we got the marks for {s} back after the next deadline so the feedback was useless",
            "the feedback on the assignment was just a number, no comments at all",
            "the marking was inconsistent between tutors, my friend got full marks for the same answer",
            "still waiting for the grades of the second assignment, five weeks later",
            "the rubric said one thing and the marking did another",
            "no idea why I lost marks on {s}, the feedback said nothing",
            "the marks were released with zero explanation",
            "lost ten points for a formatting rule that was not in the rubric",
        ],
        "neutral": [
            "it would help to get the assignment feedback before the next one is due",
            "the rubric for {s} could say how much the code quality counts",
            "a model solution after the deadline would make the feedback easier to understand",
            "could the marking scheme be published with the assignment",
            "feedback came with the grade but a short meeting would have helped more",
        ],
    },
    "exam": {
        "positive": [
            "the exam was fair and matched what we practised in the tutorials",
            "the practice exam was really close to the real one, very useful",
            "exam questions were clear and the time was enough",
            "the mock exam for {s} was great preparation",
            "the final exam tested understanding rather than memorising, which I liked",
            "the revision lecture before the exam was really useful",
            "fair quiz, it asked exactly what the learning outcomes said",
        ],
        "negative": [
            "the exam had questions on things we never covered in the lectures",
            "the midterm was way too long for one hour, nobody finished",
            "the exam questions on {s} were worded so badly I did not know what was asked",
            "exam was nothing like the past papers, felt unfair",
            "the quiz on {s} was worth too much for how little time we had",
            "the open book exam was so long that the book did not help",
            "the final exam was worth 70 percent, way too much for one morning",
            "exam marks were scaled without telling anyone how",
        ],
        "neutral": [
            "more past papers with solutions would help us prepare for the exam",
            "please tell us earlier which topics are on the exam",
            "the exam covered {s} more than I expected",
            "the exam timetable was announced quite late",
            "a revision session on {s} before the exam would be good",
        ],
    },
    "slides": {
        "positive": [
            "the slides were clear and the diagrams made the ideas easy to follow",
            "nice slides with worked examples on real data",
            "the slides for {s} are the best revision material I have",
            "loved the slides, clean and not overloaded",
            "the annotated slides after each lecture were very helpful",
            "slides with code you can copy were a great help in the labs",
        ],
        "negative": [
            "the slides were just walls of text",
            "the slides for {s} were full of typos and the code on them did not run",
            "slides were uploaded after the lecture, so I could not take notes on them",
            "the slides did not match what was said in the lecture",
            "tiny font on the slides, unreadable from the back of the room",
            "the slides were copied from another course and half the notation was different",
            "slides for {s} were missing the examples shown in class",
        ],
        "neutral": [
            "please upload the slides before the lecture",
            "the slides for {s} could include the code as text instead of screenshots",
            "a printable version of the slides would be nice",
            "the slides and the lecture notes used different notation for {s}",
            "slide numbers would make it easier to ask questions on the forum",
        ],
    },
    "recordings": {
        "positive": [
            "the lecture recordings saved me when I was ill for a week",
            "recordings were up the same day, thank you",
            "being able to rewatch {s} at my own speed helped a lot",
            "the short recorded videos before class were a great idea",
            "the recorded walkthroughs of {s} were clear and short",
            "recorded lectures meant I could work part time and still keep up",
        ],
        "negative": [
            "the recordings for {s} had no sound for the first half",
            "half the lectures were never recorded",
            "the recording only showed the slides, you could not see what was written on the board",
            "recordings took two weeks to appear, useless for revision before the quiz",
            "the video for {s} cut off before the end of the lecture",
            "audio on the recordings was so quiet you could not hear the questions",
        ],
        "neutral": [
            "could the recordings have chapters so we can find a topic again",
            "please record the tutorials too, not only the lectures",
            "the recordings of {s} would be easier to follow with captions",
            "shorter videos would be easier to rewatch than one two hour recording",
            "the lecture capture could also show the whiteboard",
        ],
    },
    "group": {
        "positive": [
            "working in a group on {s} taught me more than any lecture",
            "my group was great, we split the work fairly and learned from each other",
            "the group project was the best part of the course",
            "assigning roles in the team from the start really helped",
            "our team worked well together on {s} and the presentation went great",
            "meeting my group every week kept me on track",
        ],
        "negative": [
            "group work was a nightmare, two people in my group did nothing",
            "the group project for {s} was graded the same for everyone even though I did most of it",
            "we were put in groups across time zones and could never meet",
            "one teammate disappeared two weeks before the deadline and there was no way to report it",
            "the group members were assigned randomly and half of them never showed up",
            "I carried my team through {s} and we all got the same grade",
        ],
        "neutral": [
            "peer assessment in the group project would make the marks fairer",
            "please let us choose our own groups for {s}",
            "the group sizes could be smaller, five people was too many",
            "a short guide on how to split group work would help first years",
            "maybe allow pairs instead of groups of five for {s}",
        ],
    },
    "workload": {
        "positive": [
            "the workload was reasonable and spread evenly over the weeks",
            "{s} took about as long as the handbook said, good planning",
            "weekly exercises were short enough to fit around other courses",
            "the amount of work was fair for the number of credits",
            "manageable workload, I could keep up with everything",
        ],
        "negative": [
            "{s} had way too much content for one week",
            "the workload was insane, easily twenty hours a week on top of lectures",
            "three deadlines in the same week as the other courses, very stressful",
            "{s} alone took me a whole weekend",
            "far too many small deadlines, I was always behind",
            "this module alone took more hours than my other three courses together",
            "the weekly problem sets for {s} were far too long",
        ],
        "neutral": [
            "the weekly exercises for {s} took me about six hours",
            "it would help to know how many hours each assignment should take",
            "spreading the deadlines out a bit more would help",
            "the workload in {s} was heavier than in the first half of the course",
            "the number of weekly exercises could be reduced a little",
        ],
    },
    "tutors": {
        "positive": [
            "the tutors were patient and always happy to explain again",
            "office hours were really helpful, the TA went through my code line by line",
            "the lab tutor for {s} was excellent",
            "questions on the forum were answered within hours",
            "the demonstrators in the lab were friendly and knew their stuff",
            "the TA answered my emails even at the weekend",
        ],
        "negative": [
            "there was one tutor for forty students in the lab, we waited the whole session for help",
            "office hours clashed with my other lectures and there was no alternative",
            "the TA in my lab did not seem to know the material for {s}",
            "questions on the forum stayed unanswered for days",
            "the tutors just told us to google it",
            "the lab assistants for {s} could not answer basic questions",
        ],
        "neutral": [
            "more tutors in the labs would help when everyone is stuck on the same thing",
            "online office hours would be useful for those of us who commute",
            "the forum could have a section just for {s}",
            "it would help to have the tutor's office hours on the course page",
            "more lab assistants during the busy weeks, please",
        ],
    },
}

# Comments whose words say one thing and whose meaning another (negation, sarcasm, understatement), with the
# label a careful annotator gives them. "{s}" as above.
TRICKY: dict[str, list[tuple[str, str]]] = {
    "pacing": [
        ("not bad at all, the pace of {s} was much better than last year", "positive"),
        ("oh great, another lecture where we covered a whole textbook chapter in fifty minutes", "negative"),
        ("I would not say the pace was too fast", "positive"),
    ],
    "setup": [
        ("Loved debugging conda for three hours instead of doing the actual lab.", "negative"),
        ("I did not find the setup instructions useful at all", "negative"),
        ("can't complain about the lab setup, it just worked", "positive"),
    ],
    "marking": [
        ("the feedback was not unhelpful, just late", "neutral"),
        ("wow, a single line of feedback for a ten page report, very useful", "negative"),
        ("never had such useful feedback on an assignment before", "positive"),
    ],
    "exam": [
        ("the exam wasn't as bad as everyone said", "positive"),
        ("great exam if you enjoy questions about topics that were never taught", "negative"),
        ("no complaints about the exam", "positive"),
    ],
    "slides": [
        ("I did not find the slides useful, I learned everything from the book", "negative"),
        ("the slides were not the problem, the lectures were fine too", "positive"),
        ("nice to have slides that look like they were made in 1998", "negative"),
    ],
    "recordings": [
        ("the recordings weren't perfect but they were a lifesaver", "positive"),
        ("thanks for the recordings, all three of them", "negative"),
        ("no idea why the recordings stopped after week 3", "negative"),
    ],
    "group": [
        ("group work is not my thing but this one was actually fun", "positive"),
        ("fantastic, I got to do a group project alone", "negative"),
        ("I did not hate the group project, which is a first", "positive"),
    ],
    "workload": [
        ("sure, twenty hours a week is totally normal for a 10 credit course", "negative"),
        ("the workload was heavy but never unreasonable", "neutral"),
        ("not too much work, not too little", "positive"),
    ],
    "tutors": [
        ("couldn't have passed the labs without the tutors", "positive"),
        ("the TA was not unfriendly, just never there", "negative"),
        ("nothing to say about the tutors, they were fine", "neutral"),
    ],
}

# The terse answers many students give: a few words about one thing.
SHORT: dict[str, dict[str, list[str]]] = {
    "pacing": {
        "positive": ["good pace", "pace was fine this time"],
        "negative": ["too fast!!", "way too rushed", "slow down pls"],
        "neutral": ["pace ok-ish", "a bit fast"],
    },
    "setup": {
        "positive": ["setup was easy", "install just worked"],
        "negative": ["conda nightmare", "setup broken", "install failed twice"],
        "neutral": ["used colab instead", "setup needs a Windows guide"],
    },
    "marking": {
        "positive": ["fair marking", "useful feedback"],
        "negative": ["marks late again", "no feedback on assignments"],
        "neutral": ["publish the rubric", "feedback earlier pls"],
    },
    "exam": {
        "positive": ["fair exam", "mock exam helped"],
        "negative": ["exam was unfair", "midterm too long"],
        "neutral": ["more past papers", "exam dates earlier"],
    },
    "slides": {
        "positive": ["great slides", "slides were clear"],
        "negative": ["slides unreadable", "walls of text"],
        "neutral": ["slides before lecture pls", "slides ok"],
    },
    "recordings": {
        "positive": ["thanks for the recordings", "recordings saved me"],
        "negative": ["recordings missing", "no audio on recordings"],
        "neutral": ["record tutorials too", "captions on recordings"],
    },
    "group": {
        "positive": ["loved the group project", "great team"],
        "negative": ["group work = unfair", "my group did nothing"],
        "neutral": ["smaller groups", "let us pick groups"],
    },
    "workload": {
        "positive": ["workload fine", "manageable"],
        "negative": ["too much work", "way too many deadlines"],
        "neutral": ["heavy week", "workload ok"],
    },
    "tutors": {
        "positive": ["tutors were great", "TAs very helpful"],
        "negative": ["not enough tutors", "TA never there"],
        "neutral": ["more TAs", "office hours online?"],
    },
}

# What a student might write before or after the remark, by the remark's sentiment (None: any).
OPENERS: dict[str | None, list[str]] = {
    None: ["Honestly, ", "Overall ", "tbh ", "To be fair, ", "", "", "", "", "", ""],
    "negative": ["Sadly ", "Not great: ", "", ""],
    "positive": ["Really happy with the course. ", "", ""],
    "neutral": ["One suggestion: ", "Just a small thing, ", "", ""],
}
CLOSERS: dict[str | None, list[str]] = {
    None: ["", "", "", "", "", "", ""],
    "negative": [
        " Please fix this for next year.",
        " Very frustrating.",
        " Not acceptable for a core module.",
        " Disappointing.",
    ],
    "positive": [" Thanks!", " Thank you for a great module.", " Keep it up!", " :)"],
    "neutral": [" Otherwise fine.", " Just my two cents.", ""],
}
JOINERS = [" but ", ", but ", ". However, ", ". That said, ", " although ", "; on the other hand "]

# Comments with personal data, as students write them; redaction replaces each before anyone reads it.
WITH_PII: dict[str, tuple[str, str]] = {
    "Capstone project": (
        "Please contact me at jamie.lee@student.example.edu about my grade for the capstone",
        "neutral",
    ),
    "Data wrangling with pandas": (
        "My student number is 20231234 and the portal lost my assignment submission again",
        "negative",
    ),
    "Python refresher": ("Great course overall, follow @data201club for study groups!", "positive"),
    "Probability and statistics": (
        "The forum link https://forum.example.edu/t/123 was down all week before the exam",
        "negative",
    ),
    "Visualisation": ("Call me on +44 20 7946 0958 if you need volunteers for the open day", "neutral"),
    "Ethics and privacy": (
        "my group mate (sam.okafor [at] example.org) never replied to any message about the project",
        "negative",
    ),
    "Clustering": ("Text me on 07700 900123 if the lab moves again, I never see the announcements in time", "neutral"),
    "Linear regression": (
        "the tutor, priya.n@example.ac.uk, was amazing in office hours, please thank her",
        "positive",
    ),
}

# Words students put in many ways: each is replaced at random, so no sentence repeats word for word and a
# theme's name comes from what the comments are about (slides, exam, recordings) rather than a stock phrase.
# Topic words themselves are left alone.
SYNONYMS: dict[str, list[str]] = {
    "really": ["really", "very", "super", "so", "genuinely"],
    "great": ["great", "excellent", "brilliant", "fantastic", "amazing"],
    "useful": ["useful", "helpful", "handy", "valuable"],
    "helpful": ["helpful", "useful", "a big help"],
    "clear": ["clear", "easy to follow", "well organised", "clear"],
    "brutal": ["brutal", "relentless", "crazy", "exhausting"],
    "insane": ["insane", "ridiculous", "way too much", "unrealistic"],
    "frustrating": ["frustrating", "annoying", "demotivating"],
    "three": ["three", "two", "four", "several"],
    "twenty": ["twenty", "fifteen", "25", "18"],
    "five": ["five", "four", "six"],
    "week": ["week", "week", "wk"],
    "weeks": ["weeks", "weeks", "wks"],
    "whole": ["whole", "entire", "full"],
    "spot on": ["spot on", "about right", "perfect", "much better"],
    "just right": ["just right", "fine", "comfortable", "good"],
    "reasonable": ["reasonable", "fair", "ok", "sensible"],
    "spread evenly over the weeks": [
        "spread evenly over the weeks",
        "well balanced across the term",
        "evenly spread",
        "never piled up",
    ],
    "disappeared": ["disappeared", "vanished", "stopped replying", "dropped out"],
    "teammate": ["teammate", "group member", "team member", "guy in my group"],
    "appear": ["appear", "go online", "be uploaded", "show up"],
    "lifesaver": ["lifesaver", "huge help", "godsend"],
    "loved": ["loved", "liked", "enjoyed", "appreciated"],
    "brilliant": ["brilliant", "great", "perfect", "so good"],
    "stressful": ["stressful", "hard to manage", "exhausting"],
    "a bit": ["a bit", "a little", "slightly", "somewhat"],
    "nice": ["nice", "good", "great"],
    "a lot": ["a lot", "so much", "loads", "tremendously"],
    "unanswered": ["unanswered", "without a reply", "ignored"],
    "the lecturer": ["the lecturer", "the lecturer", "the prof", "our lecturer"],
    "lab": ["lab", "lab", "practical"],
}
_SYNONYM = re.compile(r"\b(" + "|".join(sorted(map(re.escape, SYNONYMS), key=len, reverse=True)) + r")\b")


def _vary(text: str, rng: random.Random) -> str:
    """Say it in other words now and then (see SYNONYMS)."""
    return _SYNONYM.sub(lambda m: rng.choice(SYNONYMS[m.group(1)]) if rng.random() < 0.6 else m.group(1), text)


TYPO_RATE = 0.18  # share of comments with a slip or two of the keyboard
MIXED_NEUTRAL_SHARE = 0.3  # annotators who call a balanced mixed comment "neutral" rather than its last clause


def _typo(text: str, rng: random.Random) -> str:
    """One realistic slip: a dropped or doubled letter, swapped neighbours, a lost apostrophe, no capitals."""
    kind = rng.choice(["drop", "double", "swap", "apostrophe", "lower", "shorthand"])
    if kind == "apostrophe" and "'" in text:
        return text.replace("'", "", 1)
    if kind == "lower":
        return text.lower()
    if kind == "shorthand":
        for long, short in (
            ("because", "bc"),
            ("though", "tho"),
            ("you", "u"),
            ("really", "rly"),
            ("the lecture", "the lectuer"),
            ("definitely", "definately"),
            ("which", "wich"),
        ):
            if long in text:
                return text.replace(long, short, 1)
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) > 4 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    if kind == "drop":
        w = w[:j] + w[j + 1 :]
    elif kind == "double":
        w = w[:j] + w[j] + w[j:]
    else:
        w = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    words[i] = w
    return " ".join(words)


def _sentence(text: str) -> str:
    text = text.strip()
    return text[0].upper() + text[1:] if text else text


def _finish(text: str, rng: random.Random) -> str:
    if text[-1] in ".!?)":
        return text
    return text + rng.choice([".", ".", ".", "!", "", ""])


def _remark(topic: str, sentiment: str, subject: str, rng: random.Random) -> str:
    return _vary(rng.choice(TOPICS[topic][sentiment]).format(s=subject), rng)


def _compose(
    topic: str, sentiment: str, subjects: list[str], topics: list[str], weights: list[int], rng: random.Random
) -> tuple[str, str]:
    """One comment about `topic` meant as `sentiment`: (text, the label an annotator gives it)."""
    subject = rng.choice(subjects)
    shape = rng.choices(["one", "two", "mixed", "tricky", "short"], weights=[42, 18, 12, 12, 16])[0]
    label = sentiment
    if shape == "short":
        return _finish(_vary(rng.choice(SHORT[topic][sentiment]), rng), rng), sentiment
    if shape == "tricky":
        matching = [(t, s) for t, s in TRICKY[topic] if s == sentiment] or TRICKY[topic]
        text, label = rng.choice(matching)
        text = _sentence(_vary(text.format(s=subject), rng))
    elif shape == "mixed":
        # Another topic, the opposite feeling first: "the slides were clear but the pace was brutal".
        other_topic = rng.choices(topics, weights=weights)[0]
        other = {"positive": "negative", "negative": "positive"}.get(sentiment, rng.choice(["positive", "negative"]))
        first = _remark(other_topic, other, subject, rng)
        joiner = rng.choice(JOINERS)
        second = _remark(topic, sentiment, subject, rng)
        text = _sentence(first) + joiner + second  # every joiner ends in a comma or a space: no capital
        if sentiment != "neutral" and rng.random() < MIXED_NEUTRAL_SHARE:
            label = "neutral"
    elif shape == "two":
        first, second = (
            rng.sample(TOPICS[topic][sentiment], 2)
            if len(TOPICS[topic][sentiment]) > 1
            else (TOPICS[topic][sentiment][0], _remark(topic, "neutral", subject, rng))
        )
        text = _sentence(_vary(first.format(s=subject), rng)) + ". " + _sentence(_vary(second.format(s=subject), rng))
    else:
        text = _sentence(_remark(topic, sentiment, subject, rng))
    if shape != "tricky":
        opener = rng.choice(OPENERS[None] + OPENERS[sentiment])
        text = (opener + text[0].lower() + text[1:]) if opener and not opener.endswith(". ") else opener + text
    text = _finish(text, rng)
    if shape in ("one", "two", "mixed"):
        closer = rng.choice(CLOSERS[None] + CLOSERS[sentiment])
        if closer[1:2].isalpha() and text[-1] not in ".!?":
            text += "."
        text += closer
    if rng.random() < TYPO_RATE:
        text = _typo(text, rng)
    return text, label


# Modules drift over the term: the demo shows a clustering week that went badly and a strong capstone.
MODULE_MOOD = {
    "Clustering": (0.2, 0.25, 0.55),
    "Capstone project": (0.55, 0.2, 0.25),
    "Probability and statistics": (0.3, 0.3, 0.4),
}
DEFAULT_MOOD = (0.45, 0.25, 0.3)


def _key(text: str) -> str:
    """Texts that differ only in case, spacing or punctuation are the same comment."""
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def demo_comments(seed: int = 201) -> list[dict]:
    """Deterministic demo rows (each text distinct): text, module, submitted_at, external id, sentiment, and the
    topic it was written about (not imported: for checking that themes find the topics)."""
    rng = random.Random(seed)
    rows: list[dict] = []
    seen: set[str] = set()
    for week, (title, subjects, mix, count) in enumerate(MODULES):
        topics, weights = list(mix), list(mix.values())
        mood = MODULE_MOOD.get(title, DEFAULT_MOOD)
        for n in range(count):
            if n == count // 2 and title in WITH_PII:
                text, label, topic = *WITH_PII[title], "personal data"
            else:
                for _ in range(50):  # draw again when the text was written already
                    sentiment = rng.choices(SENTIMENTS, weights=mood)[0]
                    topic = rng.choices(topics, weights=weights)[0]
                    text, label = _compose(topic, sentiment, subjects, topics, weights, rng)
                    if _key(text) not in seen:
                        break
                else:
                    continue
            seen.add(_key(text))
            submitted = TERM_START + timedelta(days=week * 12 + rng.randint(0, 11), minutes=rng.randint(0, 600))
            rows.append(
                {
                    "id": f"{ID_PREFIX}{len(rows):04d}",
                    "text": text,
                    "module": title,
                    "submitted_at": submitted.isoformat(),
                    "sentiment": label,
                    "topic": topic,
                }
            )
    return rows
