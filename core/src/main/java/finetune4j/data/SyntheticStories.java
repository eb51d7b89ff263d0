package finetune4j.data;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A deterministic generator of short, simple English stories with known facts, in the spirit of
 * TinyStories. It is the built-in corpus of the project: the text the bundled demo base model was
 * pretrained on (and the corpus {@code init-model} trains its tokenizer on), and the source of the
 * demo's instruction task (questions about a story whose answers are facts of the story).
 *
 * <p>Everything is a pure function of the seed, so corpora and tasks are reproducible without
 * shipping any text.
 */
public final class SyntheticStories {
    static final String[] NAMES = {"Lily", "Tom", "Mia", "Ben", "Anna", "Max", "Sue", "Tim", "Lucy", "Sam",
        "Emma", "Jack", "Zoe", "Leo", "Amy", "Dan", "Kim", "Bob", "Eva", "Joe", "Nina", "Finn", "Rosa", "Ted"};
    static final String[] ANIMALS = {"cat", "dog", "bird", "fox", "frog", "duck", "bear", "rabbit", "mouse",
        "horse", "cow", "pig", "owl", "fish", "lion", "sheep"};
    static final String[] OBJECTS = {"ball", "hat", "kite", "box", "cup", "book", "car", "boat", "bag", "drum",
        "doll", "shoe", "coat", "bike", "lamp", "toy"};
    static final String[] COLORS = {"red", "blue", "green", "yellow", "pink", "black", "white", "brown",
        "purple", "orange", "gray", "gold"};
    static final String[] PLACES = {"park", "forest", "beach", "garden", "river", "farm", "school", "market",
        "hill", "lake", "zoo", "city"};
    static final String[] FEELINGS = {"happy", "sad", "tired", "excited", "scared", "proud", "angry", "calm"};
    static final String[] FOODS = {"apple", "cake", "bread", "soup", "cookie", "pear", "banana", "pie"};
    static final String[] WEATHER = {"sunny", "rainy", "windy", "cold", "warm", "snowy"};

    /** The facts a story states; the demo's questions ask for them. */
    public record Facts(String name, String friend, String object, String color, String place,
                        String animal, String food, String feeling) {
    }

    /** One story and the facts it states. */
    public record Story(String text, Facts facts) {
    }

    private final SplittableRandom rng;

    public SyntheticStories(long seed) {
        this.rng = new SplittableRandom(seed);
    }

    private String pick(String[] a) {
        return a[rng.nextInt(a.length)];
    }

    private static String article(String noun) {
        return "aeiou".indexOf(noun.charAt(0)) >= 0 ? "an" : "a";
    }

    /** The next story. */
    public Story next() {
        String name = pick(NAMES), friend;
        do {
            friend = pick(NAMES);
        } while (friend.equals(name));
        String object = pick(OBJECTS), color = pick(COLORS), place = pick(PLACES), animal = pick(ANIMALS);
        String food = pick(FOODS), feeling = pick(FEELINGS), weather = pick(WEATHER);
        String he = rng.nextBoolean() ? "She" : "He";
        List<String> s = new ArrayList<>();
        switch (rng.nextInt(3)) {
            case 0 -> s.add("Once upon a time, there was a little kid named " + name + ".");
            case 1 -> s.add("One " + weather + " day, " + name + " woke up early.");
            default -> s.add(name + " was a kind kid who liked to play.");
        }
        s.add(name + " had " + article(color) + " " + color + " " + object + ".");
        if (rng.nextBoolean()) s.add(he + " loved the " + object + " very much.");
        s.add(name + " went to the " + place + " with " + friend + ".");
        switch (rng.nextInt(3)) {
            case 0 -> s.add("At the " + place + ", they saw " + article(animal) + " " + animal + ".");
            case 1 -> s.add("There, " + name + " met " + article(animal) + " little " + animal + ".");
            default -> s.add("They found " + article(animal) + " " + animal + " near the " + place + ".");
        }
        switch (rng.nextInt(3)) {
            case 0 -> s.add("The " + animal + " wanted to play with the " + object + ".");
            case 1 -> s.add(friend + " said, \"Look at the " + animal + "!\"");
            default -> s.add("The " + animal + " was hungry, so " + name + " gave it some " + food + ".");
        }
        switch (rng.nextInt(4)) {                          // dialogue: questions and answers in the story's own words
            case 0 -> {
                s.add(friend + " asked, \"What do you have, " + name + "?\"");
                s.add("\"I have " + article(color) + " " + color + " " + object + ",\" said " + name + ".");
            }
            case 1 -> s.add("\"Where did the " + animal + " go?\" asked " + name + ".");
            case 2 -> s.add("\"Who wants to play?\" asked " + friend + ".");
            default -> {
            }
        }
        if (rng.nextBoolean()) s.add("They ate " + article(food) + " " + food + " together.");
        s.add("At the end of the day, " + name + " felt " + feeling + ".");
        if (rng.nextInt(3) == 0) {
            s.add("\"What did you see today?\" asked Mom.");
            s.add("\"I saw " + article(animal) + " " + animal + " at the " + place + "!\" said " + name + ".");
        }
        if (rng.nextInt(4) == 0) s.add("The end.");
        return new Story(String.join(" ", s), new Facts(name, friend, object, color, place, animal, food, feeling));
    }

    /** A question about a story and its one-word answer. */
    public record Question(String story, String question, String answer) {
    }

    /**
     * A question about {@code s} whose answer is a fact the story states: the object the kid had,
     * the animal they saw, or the friend who came along (chosen at random).
     */
    public Question question(Story s) {
        Facts f = s.facts();
        return switch (rng.nextInt(3)) {
            case 0 -> new Question(s.text(), "What did " + f.name() + " have?", f.object());
            case 1 -> new Question(s.text(), "What animal did " + f.name() + " see?", f.animal());
            default -> new Question(s.text(), "Who went with " + f.name() + "?", f.friend());
        };
    }

    /** {@code n} stories, each with one question (the demo's instruction task). */
    public static java.util.List<Question> questions(long seed, int n) {
        SyntheticStories g = new SyntheticStories(seed);
        java.util.List<Question> out = new java.util.ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(g.question(g.next()));
        return out;
    }

    /** A corpus of {@code n} stories separated by blank lines. */
    public static String corpus(long seed, int n) {
        SyntheticStories g = new SyntheticStories(seed);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) sb.append(g.next().text()).append("\n\n");
        return sb.toString();
    }
}
