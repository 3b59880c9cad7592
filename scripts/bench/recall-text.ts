/**
 * Deterministic English chat text for the recall workloads (12–15): a seeded PRNG picks words
 * from a hand-written vocabulary (about 800 distinct words in 14 classes) with a Zipf-like skew, and
 * arranges them in conversational sentence templates (questions, requests, answers, small talk),
 * so a word's frequency, a message's length and the mix of common and rare terms look like a
 * support chat rather than lorem ipsum. The same seed gives the same text on every run and backend.
 */

/** mulberry32: a small, fast, seeded PRNG; returns floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const words = (s: string): readonly string[] => s.trim().split(/\s+/)

/** Word classes. Order matters: earlier words are picked more often (Zipf-like). */
export const VOCAB = {
  noun: words(`
    account order invoice password email message file report meeting project team customer
    payment subscription plan price discount refund delivery package address phone number
    problem issue error question answer update version feature setting option screen page
    button link form field table list document spreadsheet presentation slide chart graph
    calendar schedule deadline task ticket request note comment review feedback survey result
    database server network connection browser app application website login account profile
    backup copy folder drive cloud storage photo picture video song playlist podcast book
    article recipe dinner lunch breakfast coffee tea restaurant menu reservation flight hotel
    trip vacation weekend holiday birthday party gift present card letter contract agreement
    budget expense salary bonus tax receipt bank loan mortgage insurance claim policy doctor
    appointment prescription medicine symptom headache exercise workout run walk bike car
    train bus ticket station airport route map traffic weather forecast rain snow storm
    temperature heater window door kitchen garden plant tree dog cat puppy kitten school class
    homework exam grade teacher student course lesson tutorial guide manual instruction step
    recipe ingredient oven pasta pizza salad soup sandwich cake cookie chocolate apple banana
    orange lemon tomato potato onion garlic cheese bread rice chicken fish beef vegetable fruit
    printer laptop keyboard mouse monitor charger battery cable headphone speaker camera tablet
    phone watch router modem password certificate key token permission role admin user group
    channel thread notification alert reminder summary draft template signature attachment
    warehouse shipment inventory supplier vendor quote estimate proposal client partner lead
    campaign newsletter audience conversion funnel metric dashboard analytics experiment launch
    release sprint roadmap milestone backlog bug crash log stack trace test deployment pipeline
    container cluster instance region bucket queue worker job cron script function variable
    query index migration schema column row record entry value parameter argument response
    neighbor landlord apartment rent lease repair plumber electrician leak roof floor wall
    painting furniture couch desk chair lamp shelf closet mirror carpet blanket pillow towel
  `),
  verb: words(`
    check send find change update fix cancel book order pay reset open close share download
    upload install remove delete add create move copy print sign review approve reject schedule
    reschedule confirm remember forget explain show help call email text write read translate
    summarize compare calculate convert export import sync backup restore connect disconnect
    enable disable configure test deploy merge release track return exchange replace repair
    clean cook bake prepare plan organize visit meet join leave invite start stop finish
    recommend suggest choose pick try buy sell rent borrow lend save spend transfer deposit
    withdraw renew upgrade downgrade subscribe unsubscribe verify validate login logout
    register sort filter search rename archive restore publish edit draft format measure
    estimate predict investigate debug monitor notify remind follow ship deliver pack unpack
  `),
  adj: words(`
    new old quick simple easy hard small big large long short early late good great bad
    important urgent weekly monthly daily annual next last first final previous current
    different same free expensive cheap cheaper better faster slower safe secure private public
    shared personal local remote online offline broken missing wrong correct empty full
    recent latest upcoming overdue pending active inactive blue red green yellow black white
    warm cold hot quiet busy friendly helpful detailed short quarterly nearby favorite healthy
    vegetarian spicy sweet fresh organic electric wireless digital printed signed blank
    duplicate extra additional original temporary permanent automatic manual international
  `),
  adv: words(`
    today tomorrow yesterday tonight now soon later again already still maybe probably really
    quickly carefully usually sometimes always never recently finally actually honestly
    basically exactly almost nearly definitely
  `),
  name: words(`
    Alice Bob Carol David Emma Frank Grace Henry Isabel Jack Karen Leo Maria Noah Olivia Paul
    Quinn Rachel Sam Tara Uma Victor Wendy Xavier Yara Zoe Priya Ahmed Chen Sofia Lucas Mia
    Mateo Aisha Hiroshi Fatima Diego Elena Ravi Ingrid
  `),
  place: words(`
    London Paris Berlin Madrid Rome Lisbon Amsterdam Dublin Vienna Prague Warsaw Oslo
    Stockholm Helsinki Athens Istanbul Cairo Nairobi Lagos Tokyo Seoul Beijing Shanghai
    Singapore Sydney Melbourne Auckland Toronto Montreal Vancouver Chicago Boston Seattle
    Denver Austin Miami Mexico Bogota Lima Santiago Buenos Aires Mumbai Delhi Bangalore
  `),
  day: words(`Monday Tuesday Wednesday Thursday Friday Saturday Sunday morning afternoon evening night`),
  month: words(`January February March April May June July August September October November December`),
  tech: words(`
    python javascript typescript postgres redis kafka docker kubernetes terraform linux windows
    macos android iphone excel slack zoom github gitlab jira notion figma stripe paypal shopify
    wordpress chrome firefox safari openai whatsapp telegram discord gmail outlook dropbox
    salesforce hubspot zapier airtable vercel netlify heroku nginx graphql webhook oauth
    websocket json yaml csv pdf api sdk cli vpn dns ssl smtp
  `),
  feeling: words(`
    thanks great perfect awesome okay sure sorry unfortunately frustrating confusing annoying
    wonderful lovely amazing brilliant fine cool nice weird strange interesting
  `),
  quantity: words(`one two three four five six seven ten twenty fifty hundred thousand several few many`),
  unit: words(`minutes hours days weeks months years dollars euros pounds items pages files people times`),
  filler: words(`just really also actually please kindly maybe though anyway`),
  topic: words(`
    billing shipping onboarding security privacy performance pricing integration support
    accessibility localization reporting compliance marketing sales hiring training travel
    cooking fitness gardening parenting photography music movies football basketball tennis
    chess astronomy history philosophy economics chemistry biology physics mathematics poetry
  `),
} as const

type Slot = keyof typeof VOCAB

/** Sentence templates: `{class}` is a word of that class. Index 0 … n: likelier first. */
const TEMPLATES: readonly string[] = [
  'can you {verb} my {noun} {adv}?',
  'I need to {verb} the {adj} {noun} before {day}.',
  'how do I {verb} a {noun} in {tech}?',
  'sure, I will {verb} the {noun} and send you the {noun} {adv}.',
  '{feeling}, that {noun} looks {adj} now.',
  'my {noun} is {adj} again, could you {verb} it?',
  'please {verb} the {noun} for {name} by {day}.',
  'the {adj} {noun} from {place} arrived {adv}.',
  'I think the {noun} is {adj} because the {noun} was never {verb}ed.',
  'here is a {adj} summary of your {noun}: {quantity} {unit} left on the {noun}.',
  'do you remember the {noun} {name} mentioned in {month}?',
  'what is the best way to {verb} {quantity} {noun}s at once?',
  "I'm {adv} looking for a {adj} {noun} near {place}.",
  'we talked about {topic} last {day}, any {noun} on that?',
  '{name} asked me to {verb} the {noun} in {tech}, is that {adj}?',
  'it took {quantity} {unit} to {verb} the {noun}, which is {adj}.',
  'could you {filler} remind me to {verb} the {noun} {adv}?',
  'the {noun} keeps showing an {noun} when I {verb} it on {tech}.',
  'let me {verb} that for you: the {noun} costs {quantity} {unit}.',
  "I don't understand why the {noun} and the {noun} are {adj}.",
  "{feeling}! I'll {verb} the {adj} {noun} with {name} {adv}.",
  'any tips on {topic} for a {adj} {noun}?',
  'my {noun} in {place} needs a {adj} {noun} for {month}.',
  'you can {verb} the {noun} from the {noun} page, under {noun} settings.',
  'I {adv} {verb}ed my {noun}, but the {noun} is still {adj}.',
  'is there a {adj} {noun} for {topic} in {tech}?',
  'book a {noun} in {place} for {quantity} people on {day} {day}.',
  'the {noun} was {adj} and the {noun} was {adj}, {feeling}.',
]

/** A Zipf-like index in [0, n): small indexes much likelier (rank ~ u^2.2). */
function skewed(rand: () => number, n: number): number {
  return Math.min(n - 1, Math.floor(n * rand() ** 2.2))
}

function word(rand: () => number, slot: Slot): string {
  const list = VOCAB[slot]
  return list[skewed(rand, list.length)]!
}

/** One sentence from a template, capitalised. */
export function sentence(rand: () => number): string {
  const template = TEMPLATES[skewed(rand, TEMPLATES.length)]!
  const s = template.replace(/\{(\w+)\}/g, (_, slot: string) => word(rand, slot as Slot))
  return s.charAt(0).toUpperCase() + s.slice(1)
}

/** A chat message of 1–4 sentences (users write shorter messages than assistants). */
export function chatMessage(rand: () => number, role: 'user' | 'assistant'): string {
  const n = role === 'user' ? 1 + Math.floor(rand() * 2) : 1 + Math.floor(rand() * 4)
  const parts: string[] = []
  for (let k = 0; k < n; k++) parts.push(sentence(rand))
  return parts.join(' ')
}

/** A short memory name, like an agent would save: `preferred-delivery-address`. */
export function memoryName(rand: () => number, k: number): string {
  return `${word(rand, 'adj')}-${word(rand, 'noun')}-${word(rand, 'topic')}-${k}`
}

/** A memory's description and content: a fact about the user in one or two sentences. */
export function memoryText(rand: () => number): { description: string; content: string } {
  return {
    description: `${word(rand, 'topic')} ${word(rand, 'noun')} of ${word(rand, 'name')}`,
    content: `${sentence(rand)} ${rand() < 0.5 ? sentence(rand) : ''}`.trim(),
  }
}

/**
 * A one- or two-word search from the vocabulary: half the words as frequent as in the text
 * (many hits: ranking matters), half uniform (rare words: few hits).
 */
export function searchText(rand: () => number): string {
  const slots: Slot[] = ['noun', 'noun', 'verb', 'tech', 'place', 'topic', 'adj', 'name']
  const pickFrom = (list: readonly string[]) => list[rand() < 0.5 ? skewed(rand, list.length) : Math.floor(rand() * list.length)]!
  const a = pickFrom(VOCAB[slots[Math.floor(rand() * slots.length)]!])
  return rand() < 0.5 ? a : `${a} ${pickFrom(VOCAB.noun)}`
}

/** A typo'd word for fuzzy search: one letter dropped or swapped from a vocabulary word. */
export function typo(rand: () => number): string {
  const pool = [...VOCAB.noun, ...VOCAB.topic]
  let w = pool[Math.floor(rand() * pool.length)]!
  while (w.length < 5) w = pool[Math.floor(rand() * pool.length)]!
  const at = 1 + Math.floor(rand() * (w.length - 2))
  return rand() < 0.5 ? w.slice(0, at) + w.slice(at + 1) : w.slice(0, at) + w[at + 1] + w[at] + w.slice(at + 2)
}
