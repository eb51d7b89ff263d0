package finetune4j.internal;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** PyJson against strings produced by CPython 3.11's json.dumps (pasted from the interpreter). */
class PyJsonTest {
    /** Double bits → {@code json.dumps(float)}: fixed/exponent switch, shortest digits, random doubles. */
    private static final String[][] FLOATS = {
            {"0L", "0.0"},
            {"-9223372036854775808L", "-0.0"},
            {"4607182418800017408L", "1.0"},
            {"4591870180066957722L", "0.1"},
            {"4587366580439587226L", "0.05"},
            {"4547007122018943789L", "0.0001"},
            {"4532020583610935537L", "1e-05"},
            {"4548686525128629352L", "0.00012345"},
            {"4728057454347157504L", "123456789.0"},
            {"4831355200913801216L", "1000000000000000.0"},
            {"4846369599423283200L", "1e+16"},
            {"4846369599423283199L", "9999999999999998.0"},
            {"4848869599423283200L", "1.5e+16"},
            {"4936209963552724370L", "1e+22"},
            {"4506651814115716936L", "2e-07"},
            {"1L", "5e-324"},
            {"9218868437227405311L", "1.7976931348623157e+308"},
            {"4599075939470750515L", "0.3"},
            {"4604180019048437077L", "0.6666666666666666"},
            {"4562254508917369340L", "0.001"},
            {"4539475662290099561L", "3e-05"},
            {"4636737291354636288L", "100.0"},
            {"4625196817309499392L", "16.0"},
            {"-4715050043001410163L", "-2.5e-07"},
            {"9218868437227405312L", "Infinity"},
            {"-4503599627370496L", "-Infinity"},
            {"4712128852136459333L", "10928588.983213553"},
            {"6613812840851947673L", "1.4186613525849614e+134"},
            {"-5710247810770547145L", "-7.571968556055867e-74"},
            {"-2923606705608299542L", "-1.4074705188261364e+113"},
            {"-6418882230475948503L", "-3.3339745473042614e-121"},
            {"-8669234506254942816L", "-1.2342180766211395e-271"},
            {"-2945057292331195665L", "-5.126864004244935e+111"},
            {"-4132834997290464293L", "-2.1520217579844227e+32"},
            {"4594210616595436404L", "0.1399601630397701"},
            {"956523682424107605L", "1.01853664031722e-244"},
            {"2893396244277848635L", "2.9704598186234577e-115"},
            {"6858376947525423350L", "3.0534183338726823e+150"},
            {"-2426753002370701150L", "-2.3027782228163463e+146"},
            {"7023743836218156456L", "3.56409621163656e+161"},
            {"1881095652490078568L", "6.352929017207453e-183"},
            {"4599339987076239173L", "0.3146575865605324"},
            {"-4958785209146575975L", "-1.2761724801771812e-23"},
            {"7529058068588108450L", "2.0868668176225336e+195"},
            {"3358703120032737309L", "3.66898827745704e-84"},
            {"-2444948144067863519L", "-1.389122273370197e+145"},
            {"7183850473961985349L", "1.7548715433165102e+172"},
            {"-4391700722008468898L", "-1039514241563211.8"},
            {"1326906338224231255L", "5.7804021771411506e-220"},
            {"-7048017847258823958L", "-2.8497478716107576e-163"},
            {"8205770171119394379L", "3.490691392124745e+240"},
            {"2439413297207794790L", "1.3282314387596086e-145"},
            {"-510286949920779984L", "-2.9317061175715426e+274"},
            {"98010135235158442L", "4.1124768973349897e-302"},
            {"-4176458998396031237L", "-2.5983853818656714e+29"},
            {"-735525178717911527L", "-2.5839922981649337e+259"},
            {"3059511337525703479L", "3.7615508677292285e-104"},
            {"3071096560362593664L", "2.1435728770450893e-103"},
            {"5785846489742829405L", "6.3583676891104784e+78"},
            {"3668860471095815154L", "2.0062829023357212e-63"},
    };

    @Test
    void floatsAreWrittenAsPythonRepr() {
        for (String[] f : FLOATS) {
            double d = Double.longBitsToDouble(Long.parseLong(f[0].substring(0, f[0].length() - 1)));
            assertThat(PyJson.floatRepr(d)).as("bits %s (%s)", f[0], d).isEqualTo(f[1]);
        }
        assertThat(PyJson.floatRepr(Double.NaN)).isEqualTo("NaN");
    }

    @Test
    void indent2SortedMatchesPython() {
        Map<String, Object> inner = new LinkedHashMap<>();
        inner.put("z", null);
        inner.put("a", "\u00e9\u2581\n\"\\\u007f");
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("b", List.of(1, 2.5, inner));
        m.put("a", Map.of());
        m.put("c", List.of());
        m.put("d", true);
        m.put("\u00e9", 1);
        m.put("Z", "x");
        // python: json.dumps({...}, indent=2, sort_keys=True)
        String want = "{\n  \"Z\": \"x\",\n  \"a\": {},\n  \"b\": [\n    1,\n    2.5,\n    {\n      \"a\": \"\\u00e9\\u2581\\n\\\"\\\\\\u007f\",\n      \"z\": null\n    }\n  ],\n  \"c\": [],\n  \"d\": true,\n  \"\\u00e9\": 1\n}";
        assertThat(PyJson.dumpsIndent2Sorted(m)).isEqualTo(want);
    }

    @Test
    void jsonNodesRoundTripWithTheirNumberKinds() throws Exception {
        String text = "{\"b\": [1, 1.0, 1e-05, 12345678901234567890, NaN, -Infinity], \"a\": {\"y\": false, \"x\": \"s\"}}";
        assertThat(PyJson.dumpsIndent2Sorted(PyJson.parse(text))).isEqualTo(
                "{\n  \"a\": {\n    \"x\": \"s\",\n    \"y\": false\n  },\n  \"b\": [\n    1,\n    1.0,\n    1e-05,\n"
                        + "    12345678901234567890,\n    NaN,\n    -Infinity\n  ]\n}");
    }

    @Test
    void compactKeepsOrderAndUsesShortestFloatDigits() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("step", 3);
        m.put("loss", 2.314f);
        m.put("lr", 1.8e-4);
        m.put("w", "\u00fc");
        assertThat(PyJson.dumpsCompact(m)).isEqualTo("{\"step\":3,\"loss\":2.314,\"lr\":0.00018,\"w\":\"\\u00fc\"}");
    }

    @Test
    void keysSortByCodePointNotUtf16() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("w\uD83D\uDE00", 1);   // U+1F600: after U+FF5E in code point order, before it in UTF-16 order
        m.put("w\uFF5E", 2);
        assertThat(PyJson.dumpsIndent2Sorted(m)).isEqualTo("{\n  \"w\\uff5e\": 2,\n  \"w\\ud83d\\ude00\": 1\n}");
    }
}
