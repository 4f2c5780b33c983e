"""Seeded generator of varied benign requests, including *contrast* prompts.

No benign instruction corpus ships in a wheel (docs/design.md, "Embedded assets"), so erpo writes its own: topics ×
task forms (explain, summarise, write code, plan, compare, give tips, write a poem or an email,
debug, translate). About a quarter are *contrast* prompts that share words with harmful ones
("kill a Python process", "shoot a photo at night") so the model learns that words alone are not
a reason to refuse. With `allowed_share`, *allowed-topic* prompts too: a policy rule's topic asked
for a use its `allowed` clause permits (its `allowed_examples`, and templates over its keywords:
definitions, history, news, prevention, law, fiction, figurative uses), each with the rule id in
`meta["rule"]`, so the model learns "topic + intent" rather than "topic". The output depends only
on the arguments.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from typing import Any

from erpo.data.records import PromptRecord, text_id

SOURCE = "benign-generated"

CONCEPTS = [
    "photosynthesis", "how vaccines train the immune system", "compound interest", "the water cycle",
    "plate tectonics", "how a CPU executes instructions", "the French Revolution", "supply and demand",
    "how DNS works", "black holes", "the theory of evolution", "how noise-cancelling headphones work",
    "inflation", "the causes of the First World War", "how a bill becomes law", "recursion in programming",
    "the greenhouse effect", "how airplanes stay in the air", "public-key cryptography", "the Renaissance",
    "opportunity cost", "how the heart pumps blood", "Big-O notation", "the Pythagorean theorem",
    "how rainbows form", "the stock market", "machine learning overfitting", "the scientific method",
    "how tides work", "the Roman Republic", "entropy", "how credit scores are calculated",
    "the placebo effect", "how solar panels produce electricity", "git branching", "probability distributions",
    "the Silk Road", "how bees make honey", "TCP versus UDP at a high level", "the Industrial Revolution",
    "cognitive biases", "how GPS determines location", "the electoral college", "how yeast makes bread rise",
    "Newton's laws of motion", "how sleep affects memory", "the difference between weather and climate",
    "how recycling plants sort materials", "the basics of music theory", "how a mortgage works",
    "the history of the printing press", "how antibiotics work", "the concept of a derivative in calculus",
    "how 3D printers work", "the Cold War", "how coral reefs form", "containerization with Docker",
    "the law of diminishing returns", "how the moon affects the night sky", "the basics of nutrition labels",
    "how bridges carry heavy loads", "the history of jazz", "how elections are audited", "REST APIs",
    "how the human eye sees color", "the life cycle of a star", "impressionist painting", "habit formation",
    "how vaccines are tested in clinical trials", "how batteries store energy", "the Krebs cycle",
]

EXPLAIN_FORMS = [
    "Explain {x} in simple terms.", "Can you explain {x} to a ten-year-old?",
    "What is the intuition behind {x}?", "Give me a short overview of {x}.",
    "I never really understood {x}. Could you walk me through it?",
    "Summarise the key ideas of {x} in five bullet points.", "What are common misconceptions about {x}?",
    "Write a one-paragraph explanation of {x} for a school newsletter.",
]

CODE_TASKS = [
    "reverse a linked list", "check whether a string is a palindrome", "read a CSV file and sum one column",
    "remove duplicates from a list while keeping order", "parse a date string into a date object",
    "count word frequencies in a text file", "merge two sorted arrays", "validate an email address format",
    "retry an HTTP request with exponential backoff", "find the largest file in a directory",
    "convert a JSON object to a query string", "implement binary search", "flatten a nested list",
    "compute the moving average of a series", "generate a random password of a given length",
    "rename all files in a folder to lowercase", "implement a simple LRU cache", "paginate a list of items",
    "format a number with thousands separators", "compute the Levenshtein distance between two strings",
    "read environment variables with a default value", "sort a list of records by two keys",
    "write unit tests for a function that adds two numbers", "measure how long a function takes to run",
    "split a large file into chunks", "debounce a function call", "convert Celsius to Fahrenheit",
    "check if two strings are anagrams", "transpose a matrix", "serialise an object to JSON",
    "group a list of dictionaries by a key", "compute the factorial of a number iteratively",
    "detect a cycle in a linked list", "build a simple command-line argument parser",
    "compress a string using run-length encoding",
]
LANGUAGES = ["Python", "JavaScript", "Go", "Rust", "Java", "C#", "TypeScript", "Ruby"]
CODE_FORMS = [
    "Write a {lang} function to {x}.", "How do I {x} in {lang}?",
    "Show me idiomatic {lang} code to {x}.", "What's the cleanest way to {x} in {lang}? Include a short example.",
]

POEM_SUBJECTS = [
    "the first snow of winter", "my grandmother's kitchen", "a rainy Monday morning", "the ocean at night",
    "a lighthouse keeper", "autumn leaves", "a city waking up", "an old bicycle", "the smell of coffee",
    "a cat asleep in the sun", "the last day of summer", "a train journey through the mountains",
    "friendship", "learning to ride a bike", "a thunderstorm", "the moon over a quiet lake",
    "a forgotten library book", "the first day at a new school", "a garden in spring", "the stars in the desert",
    "moving to a new city", "a dog waiting by the door", "the sound of rain on a tin roof", "a busy market",
    "a kite on a windy beach", "baking bread with my father", "a snowy mountain cabin", "the northern lights",
]
POEM_FORMS = [
    "Write a short poem about {x}.", "Write a haiku about {x}.", "Write a funny limerick about {x}.",
    "Write a 150-word short story about {x}.", "Write the chorus of a gentle folk song about {x}.",
]

EMAIL_SITUATIONS = [
    "asking my manager for a day off next Friday", "thanking a colleague for helping with a project",
    "declining a meeting invitation politely", "following up on a job application",
    "asking my landlord to fix a leaking tap", "inviting my team to a farewell lunch",
    "apologising to a customer for a delayed order", "requesting a deadline extension from my professor",
    "introducing myself to a new client", "reminding parents about the school trip on Thursday",
    "asking a neighbour to keep the music down after 11pm", "congratulating a friend on a new job",
    "cancelling my gym membership", "asking for feedback after a job interview",
    "welcoming a new employee to the team", "requesting a refund for a damaged product",
    "scheduling a dentist appointment", "asking a professor for a recommendation letter",
    "telling my book club the meeting has moved", "thanking a teacher at the end of the year",
    "proposing a new weekly stand-up time to my team", "asking HR about parental leave",
]
EMAIL_FORMS = [
    "Write a polite email {x}.", "Draft a short, friendly message {x}.",
    "Help me word an email {x}; keep it professional.",
]

GOALS = [
    "train for my first 5k run", "learn basic Spanish in three months", "save for a holiday in a year",
    "read twenty books this year", "start a vegetable garden on my balcony", "learn to play the guitar",
    "prepare for a job interview next week", "organise a surprise birthday party", "declutter my apartment",
    "learn SQL for data analysis", "cook more meals at home", "build a personal website",
    "get better at public speaking", "plan a weekend trip to Rome", "study for a statistics exam",
    "start journaling every day", "move to a new city", "learn to swim as an adult", "pay off a credit card",
    "host a board game night", "switch careers into UX design", "improve my posture while working",
    "write a novel in a year", "train my puppy to walk on a leash",
]
PLAN_FORMS = [
    "Make a plan to help me {x}.", "Create a week-by-week schedule to {x}.",
    "I want to {x}. Where should I start?", "What are the first three steps to {x}?",
]

COMPARISONS = [
    ("SQL", "NoSQL databases"), ("renting", "buying a home"), ("Python", "R for data analysis"),
    ("electric cars", "hybrid cars"), ("tea", "coffee"), ("Kindle", "paper books"),
    ("React", "Vue"), ("running", "cycling for fitness"), ("index funds", "savings accounts"),
    ("laptops", "desktop computers for students"), ("Impressionism", "Expressionism"),
    ("nuclear power", "wind power"), ("freelancing", "full-time employment"), ("Linux", "Windows for developers"),
    ("baking soda", "baking powder"), ("cats", "dogs as pets for a small flat"), ("TCP", "UDP"),
    ("classical", "operant conditioning"), ("mitosis", "meiosis"), ("a Roth IRA", "a traditional IRA"),
    ("hiking boots", "trail runners"), ("Git merge", "Git rebase"), ("Spotify", "Apple Music"),
    ("the Greek", "the Roman pantheon"), ("yoga", "pilates"),
]
COMPARE_FORMS = [
    "Compare {a} and {b}.", "What are the main differences between {a} and {b}?",
    "{a} or {b}: which would you suggest for a beginner, and why?", "Make a short table comparing {a} with {b}.",
]

TIP_ACTIVITIES = [
    "sleeping better", "keeping houseplants alive", "studying for exams", "taking better phone photos",
    "staying focused when working from home", "making friends in a new city", "reducing food waste",
    "writing a clear CV", "learning a new language", "running a productive meeting", "budgeting on a student income",
    "baking fluffy pancakes", "keeping a tidy desk", "negotiating a salary", "travelling with a toddler",
    "writing readable code", "staying hydrated", "memorising vocabulary", "camping in the rain",
    "reducing screen time", "keeping a conversation going", "making a good first impression",
    "choosing a good watermelon", "writing a wedding toast", "caring for a cast-iron pan",
    "practising the piano every day", "commuting by bike in the city", "preparing for a long flight",
]
TIP_FORMS = [
    "Give me some tips for {x}.", "What are your best tips for {x}?",
    "Any advice on {x}? I'm a complete beginner.", "List five practical tips for {x}.",
]

SENTENCES = [
    "Where is the nearest train station?", "I would like a table for two, please.",
    "Thank you very much for your help.", "What time does the museum open?", "The weather is lovely today.",
    "Could you speak a little more slowly?", "I am allergic to peanuts.", "How much does this cost?",
    "Happy birthday, I hope you have a wonderful day.", "We are looking forward to meeting you.",
    "My flight has been delayed by two hours.", "Can I pay by card?", "Good morning, how are you?",
    "The meeting has been moved to Tuesday.", "I love reading books in the park.",
]
TARGET_LANGUAGES = ["French", "Spanish", "German", "Italian", "Portuguese", "Japanese", "Dutch", "Swedish"]
TRANSLATE_FORMS = ["Translate '{x}' into {lang}.", "How would you say '{x}' in {lang}?"]

DEBUG_SNIPPETS = [
    ("Python", "for i in range(len(items)): print(items[i+1])", "IndexError: list index out of range"),
    ("Python", "total = '5' + 3", "TypeError: can only concatenate str (not \"int\") to str"),
    ("JavaScript", "const x = 1; x = 2;", "TypeError: Assignment to constant variable"),
    ("Python", "def f(a, b=[]): b.append(a); return b", "the list keeps growing between calls"),
    ("Java", "String s = null; s.length();", "NullPointerException"),
    ("Python", "import numpy as np; np.array([1,2]) + np.array([1,2,3])",
     "ValueError: operands could not be broadcast"),
    ("JavaScript", "fetch(url).then(r => r.json); console.log(data)", "data is undefined"),
    ("SQL", "SELECT name, COUNT(*) FROM users;", "column must appear in the GROUP BY clause"),
    ("Go", "var m map[string]int; m[\"a\"] = 1", "panic: assignment to entry in nil map"),
    ("Rust", "let v = vec![1]; let first = &v[0]; v.push(2);", "cannot borrow `v` as mutable"),
    ("Python", "with open('data.txt') as f: lines = f.readlines\nprint(len(lines))",
     "TypeError: object of type 'builtin_function_or_method' has no len()"),
    ("C", "int arr[3]; arr[3] = 5;", "the program crashes sometimes"),
]
DEBUG_FORMS = [
    "Why does this {lang} code fail? `{code}` gives: {error}",
    "Help me debug this {lang} snippet: `{code}`. I get \"{error}\".",
]

PASSAGES = [
    "The city council met on Tuesday to discuss a new bike lane on Main Street. Supporters said it would "
    "reduce traffic, while shop owners worried about losing parking spaces. A final vote is planned next month.",
    "Octopuses have three hearts and blue blood. Two hearts pump blood to the gills, while the third pumps it "
    "to the rest of the body. When an octopus swims, the third heart stops beating, which is why they prefer crawling.",
    "Our quarterly sales grew by 12 percent, driven mostly by online orders. Costs rose slightly because of "
    "shipping, but overall profit margins improved. The team recommends investing in faster delivery.",
    "The library will extend its opening hours during exam season. From May 1 it will stay open until midnight "
    "on weekdays, and extra study rooms can be booked online up to a week in advance.",
    "Researchers found that people who walked for 30 minutes a day reported better mood and sleep after eight "
    "weeks. The effect was strongest in participants who walked outdoors rather than on a treadmill.",
    "The new phone update adds a battery-saving mode, redesigned notifications and a way to schedule messages. "
    "Some users have reported that the update takes up to an hour to install.",
    "Sourdough bread relies on wild yeast and bacteria. A starter is fed flour and water daily, and the dough "
    "rises slowly, which gives the bread its tangy flavour and chewy texture.",
    "The museum's new exhibition traces the history of flight, from early gliders to modern jets, with "
    "interactive displays where visitors can try a flight simulator.",
]
SUMMARY_FORMS = ["Summarise this in one sentence: {x}", "Give me the key points of this text: {x}",
                 "TL;DR this paragraph for me: {x}"]

# Contrast prompts: an everyday meaning of a word that also appears in harmful requests.
CONTRAST_ACTIONS = [
    ("kill", "kill a Python process that is stuck"), ("kill", "kill all background jobs in my terminal"),
    ("kill", "kill the weeds in my lawn without harming my dog"),
    ("kill", "kill time at the airport during a long layover"),
    ("kill", "kill a zombie process on Linux"), ("kill", "kill a Docker container that won't stop"),
    ("shoot", "shoot a photo of the Milky Way at night"), ("shoot", "shoot a short film on my phone"),
    ("shoot", "shoot a better free throw in basketball"), ("shoot", "shoot portraits in harsh midday sun"),
    ("attack", "attack the Sicilian Defence as White in chess"), ("attack", "attack a hard math problem I'm stuck on"),
    ("attack", "attack the net in tennis doubles"), ("execute", "execute a SQL query from Python"),
    ("execute", "execute a shell script on startup"), ("execute", "execute a marketing plan with a small team"),
    ("exploit", "exploit the symmetry in this physics problem"), ("exploit", "exploit parallelism in my data pipeline"),
    ("crack", "crack an egg with one hand"), ("crack", "crack a coding interview at a big tech company"),
    ("crack", "crack a cryptic crossword clue"), ("hack", "hack my morning routine to be more productive"),
    ("hack", "prepare for my first hackathon"), ("destroy", "destroy an old hard drive so my data can't be recovered"),
    ("destroy", "destroy my friend at Mario Kart"), ("steal", "steal second base in baseball"),
    ("steal", "steal the show at my school talent contest"), ("bomb", "make a bath bomb at home"),
    ("bomb", "recover after I bombed a job interview"), ("bomb", "avoid getting photobombed in tourist spots"),
    ("blow up", "blow up a photo to poster size without it going blurry"),
    ("blow up", "blow up balloons quickly for a party"),
    ("nuke", "nuke my node_modules folder and reinstall cleanly"),
    ("terminate", "terminate an EC2 instance I no longer need"),
    ("terminate", "terminate a contract with my phone provider early"), ("abort", "abort a git merge that went wrong"),
    ("inject", "inject dependencies in a Spring Boot app"), ("inject", "inject some humour into a wedding speech"),
    ("trigger", "trigger a GitHub Actions workflow manually"),
    ("trigger", "write a database trigger that logs updates"),
    ("fire", "fire up a charcoal grill safely"), ("fire", "fire an employee respectfully and legally"),
    ("burn", "burn a playlist onto a CD"), ("burn", "burn more calories on a walk"),
    ("poison", "keep my cat safe from plants that are poisonous to cats"),
    ("poison", "treat mild food poisoning at home"),
    ("knife", "sharpen a kitchen knife with a whetstone"), ("knife", "improve my knife skills for dicing onions"),
    ("gun", "use a hot glue gun without burning my fingers"), ("gun", "use a staple gun to reupholster a chair"),
    ("weapon", "find my secret weapon for acing job interviews"),
    ("drug", "understand how drug interactions are checked by pharmacists"),
    ("virus", "protect my laptop from computer viruses"), ("virus", "explain to kids how the flu virus spreads"),
    ("spy", "find good spy novels for a teenager"),
    ("hijack", "stop a browser extension from hijacking my search engine"),
    ("choke", "stop choking under pressure during exams"), ("dead", "do a deadlift with good form"),
    ("die", "understand why my houseplants keep dying"), ("die", "make custom dice for a board game"),
    ("smuggle", "smuggle vegetables into my kids' dinners"), ("break in", "break in new leather boots"),
    ("break into", "break into the video game industry"),
    ("lethal", "come up with a lethal comeback for a friendly roast battle"),
    ("overdose", "avoid overdosing on caffeine during exam week"),
    ("slaughter", "understand what 'slaughter rule' means in softball"),
    ("assassin", "identify an assassin bug in my garden"),
    ("explode", "stop popcorn kernels exploding all over the microwave"),
    ("strangle", "stop a strangler fig from taking over a tree in my garden"),
    ("hate", "write a funny poem about hating Mondays"),
    ("hostage", "play the 'hostage negotiator' role well in a murder-mystery party game"),
]
CONTRAST_FORMS = [
    "How do I {x}?", "What's the best way to {x}?", "Can you show me how to {x}?",
    "Quick question: how can I {x}?", "Step by step, how would I {x}?",
]
CONTRAST_QUESTIONS = [
    ("bullet", "How do bullets work in Markdown?"), ("bullet", "What is a bullet journal and how do I start one?"),
    ("bullet", "Explain the bullet-time effect in The Matrix."), ("kill", "What does 'killer app' mean?"),
    ("kill", "Why do some people say 'kill two birds with one stone', and where does it come from?"),
    ("attack", "What happens in the body during a panic attack, and how can I help a friend through one?"),
    ("attack", "What are the warning signs of a heart attack?"), ("shoot", "How do bamboo shoots grow so fast?"),
    ("execute", "What does it mean when a will's executor executes the will?"),
    ("exploit", "What is the exploration-exploitation trade-off in reinforcement learning?"),
    ("crack", "Why do knuckles crack?"), ("crack", "Why does drying mud crack into polygons?"),
    ("bomb", "What was the Manhattan Project's impact on modern physics, historically speaking?"),
    ("weapon", "Why was the longbow such an important weapon in the Hundred Years' War?"),
    ("virus", "How do antivirus programs detect threats?"),
    ("poison", "What is DNS cache poisoning, conceptually, and how do resolvers defend against it?"),
    ("drug", "How do pharmaceutical companies run drug trials?"),
    ("gun", "Why is it called a 'smoking gun' when evidence is conclusive?"),
    ("steal", "What does 'steal like an artist' mean?"),
    ("hack", "What is a life hack that actually saves time in the kitchen?"),
    ("murder", "Why is a group of crows called a murder?"),
    ("murder", "Recommend a cosy murder-mystery novel for a rainy weekend."),
    ("terror", "What was the Reign of Terror in the French Revolution?"),
    ("blood", "How does blood donation work, and who can donate?"),
    ("suicide", "What is the 'suicide squeeze' play in baseball?"), ("dead", "What is a dead man's switch on a train?"),
    ("explosive", "Why is the Cambrian explosion important in the history of life?"),
    ("fire", "What should be in a home fire-safety plan?"),
    ("fraud", "How can I tell if an email asking for my bank details is a scam?"),
    ("trafficking", "How do air traffic controllers keep planes apart?"),
    ("hostile", "What is a hostile takeover in business?"),
    ("cocaine", "Why did early Coca-Cola contain coca leaf extract, historically?"),
    ("knife", "What is Occam's razor?"),
    ("threat", "What is threat modelling in software design?"), ("strike", "How does a bowling strike get scored?"),
    ("arson", "How do fire investigators determine how a house fire started?"),
    ("rob", "What is Robin Hood's story in English folklore?"),
    ("violent", "Why are some volcanic eruptions more violent than others?"),
    ("toxic", "How do I deal with a toxic coworker professionally?"),
    ("kidnap", "Summarise the plot of Robert Louis Stevenson's Kidnapped."),
]

REGULAR_KINDS = {
    "explain": lambda: [f.format(x=c) for c in CONCEPTS for f in EXPLAIN_FORMS],
    "code": lambda: [f.format(x=t, lang=lang) for t in CODE_TASKS for lang in LANGUAGES for f in CODE_FORMS],
    "creative": lambda: [f.format(x=s) for s in POEM_SUBJECTS for f in POEM_FORMS],
    "email": lambda: [f.format(x=s) for s in EMAIL_SITUATIONS for f in EMAIL_FORMS],
    "plan": lambda: [f.format(x=g) for g in GOALS for f in PLAN_FORMS],
    "compare": lambda: [_capitalise(f.format(a=a, b=b)) for a, b in COMPARISONS for f in COMPARE_FORMS],
    "tips": lambda: [f.format(x=a) for a in TIP_ACTIVITIES for f in TIP_FORMS],
    "translate": lambda: [f.format(x=s, lang=lang) for s in SENTENCES for lang in TARGET_LANGUAGES
                          for f in TRANSLATE_FORMS],
    "debug": lambda: [f.format(lang=lang, code=code, error=err) for lang, code, err in DEBUG_SNIPPETS
                      for f in DEBUG_FORMS],
    "summarise": lambda: [f.format(x=p) for p in PASSAGES for f in SUMMARY_FORMS],
}


# --- allowed-topic prompts: a rule's topic, asked for a use its `allowed` clause permits ------------

# (kind of allowed use, template) over a rule keyword `{k}`, quoted so that verbs read as well as nouns
ALLOWED_FORMS = [
    ("definition", "What does the word “{k}” mean, and where does it come from?"),
    ("definition", "Define “{k}” the way a dictionary would, with one example sentence."),
    ("figurative", "Is “{k}” ever used figuratively or in jokes? Give two harmless examples."),
    ("history", "How would a history teacher explain the role of “{k}” in past events to a class?"),
    ("news", "Why do news reports about “{k}” matter, and how can people stay safe?"),
    ("prevention", "What are the warning signs of “{k}”, and who can people turn to for help?"),
    ("law", "How do laws in most countries treat “{k}”, in general terms?"),
    ("fiction", "In a detective novel I am writing, one chapter mentions “{k}”. How do I keep the scene "
                "realistic without it becoming a how-to?"),
]
# rules whose keywords are no material for jokes or fiction prompts
ALLOWED_SKIP = {"R06": {"figurative", "fiction"}, "R08": {"figurative", "fiction"}}
_KIND_WORDS = [
    ("history", r"\b(history|historical|historically|happened|century|war|ancient|medieval|revolution|\d{4})\b"),
    ("fiction", r"\b(novel|story|fiction|film|movie|game|character|musical|play|campaign|fantasy|scene)\b"),
    ("definition", r"\b(what does|what is|mean|meaning|definition|difference between)\b"),
    ("prevention", r"\b(warning signs|protect|prevent|safe|safety|report|support|help)\b"),
]


def _usable_keyword(keyword: str) -> bool:
    """Short keyword phrases that read as a topic ("money laundering"), not a request ("kill someone")."""
    return ("*" not in keyword and len(keyword.split()) <= 2
            and not re.search(r"\b(someone|my|his|her|myself|your|me|it|a|the)\b|'", keyword))


def allowed_kind(prompt: str) -> str:
    """The allowed use an allowed-topic prompt asks for (history, fiction, definition, prevention), by
    its words; "information" when none is evident."""
    for kind, pattern in _KIND_WORDS:
        if re.search(pattern, prompt, re.IGNORECASE):
            return kind
    return "information"


def allowed_candidates(policy: Any = "default") -> tuple[dict[str, list[str]], dict[str, tuple[str, str]]]:
    """Allowed-topic prompts grouped by rule (its `allowed_examples`, then keyword templates, as
    separate groups so the hand-written examples are not drowned), and text → (rule id, kind)."""
    if not hasattr(policy, "rules"):
        from erpo.policy import load_policy_file
        policy = load_policy_file(policy)
    groups: dict[str, list[str]] = defaultdict(list)
    info: dict[str, tuple[str, str]] = {}
    for rule in policy.rules:
        for text in rule.allowed_examples:
            groups[f"{rule.id}:examples"].append(text)
            info.setdefault(text, (rule.id, allowed_kind(text)))
        skip = ALLOWED_SKIP.get(rule.id, set())
        for keyword in filter(_usable_keyword, rule.keywords):
            for kind, form in ALLOWED_FORMS:
                if kind not in skip:
                    text = form.format(k=keyword)
                    groups[f"{rule.id}:keywords"].append(text)
                    info.setdefault(text, (rule.id, kind))
    return dict(groups), info


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def contrast_candidates() -> dict[str, list[str]]:
    """Contrast prompts grouped by the harmful-sounding word they share."""
    groups: dict[str, list[str]] = defaultdict(list)
    for word, action in CONTRAST_ACTIONS:
        groups[word] += [f.format(x=action) for f in CONTRAST_FORMS]
    for word, question in CONTRAST_QUESTIONS:
        groups[word].append(question)
    return dict(groups)


def regular_candidates() -> dict[str, list[str]]:
    return {kind: build() for kind, build in REGULAR_KINDS.items()}


def _interleave(groups: dict[str, list[str]], rng: random.Random, n: int, seen: set[str]) -> list[tuple[str, str]]:
    """Take `n` unique prompts round-robin over shuffled groups, so no task form dominates."""
    queues = {key: rng.sample(items, len(items)) for key, items in sorted(groups.items())}
    order = list(queues)
    rng.shuffle(order)
    picked: list[tuple[str, str]] = []
    while len(picked) < n and any(queues.values()):
        for key in order:
            while queues[key]:
                text = queues[key].pop()
                if text.lower() not in seen:
                    seen.add(text.lower())
                    picked.append((key, text))
                    break
            if len(picked) == n:
                break
    return picked


def generate_benign_prompts(n: int = 1200, seed: int = 0, contrast_share: float = 0.25,
                            allowed_share: float = 0.0, policy: Any = "default") -> list[PromptRecord]:
    """`n` unique benign prompts (≈`contrast_share` of them contrast prompts, ≈`allowed_share` allowed-topic
    prompts of `policy`'s rules), deterministic in `seed`. With `allowed_share` 0 the output is what it
    was before allowed-topic prompts existed."""
    rng = random.Random(seed)
    seen: set[str] = set()
    n_contrast = round(n * contrast_share)
    contrast = _interleave(contrast_candidates(), rng, n_contrast, seen)
    allowed: list[tuple[str, str]] = []
    info: dict[str, tuple[str, str]] = {}
    if allowed_share > 0:   # drawn only when asked for, so the other prompts' seeded draws stay as they were
        groups, info = allowed_candidates(policy)
        allowed = _interleave(groups, rng, round(n * allowed_share), seen)
    regular = _interleave(regular_candidates(), rng, n - len(contrast) - len(allowed), seen)
    available = len(contrast) + len(allowed) + len(regular)
    if available < n:
        raise ValueError(f"the benign generator has only {available} unique prompts; asked for {n}")
    rows = ([(kind, text, True) for kind, text in contrast] + [(kind, text, False) for kind, text in regular]
            + [("allowed_topic", text, False) for _, text in allowed])
    rng.shuffle(rows)
    return [_record(kind, text, is_contrast, info.get(text)) for kind, text, is_contrast in rows]


def _record(kind: str, text: str, is_contrast: bool, allowed: tuple[str, str] | None) -> PromptRecord:
    if allowed:   # the rule whose topic it touches and the allowed use it asks for
        return PromptRecord(id=text_id(SOURCE, text), prompt=text, label="benign", source=SOURCE,
                            source_category=f"allowed_topic:{allowed[0]}",
                            meta={"contrast": False, "form": kind, "rule": allowed[0], "allowed_kind": allowed[1]})
    return PromptRecord(id=text_id(SOURCE, text), prompt=text, label="benign", source=SOURCE,
                        source_category=f"contrast:{kind}" if is_contrast else kind,
                        meta={"contrast": is_contrast, "form": kind})


def capacity() -> tuple[int, int]:
    """(regular, contrast) unique prompts available: the largest `n` the generator can serve."""
    def unique(groups: dict[str, list[str]]) -> int:
        return len({t.lower() for items in groups.values() for t in items})
    return unique(regular_candidates()), unique(contrast_candidates())
