// Avro-Java's own compatibility verdict, as a line-oriented oracle for eventgen's tests.
//
// Reads one JSON object per stdin line, {"reader": <schema>, "writer": <schema>}, and prints one
// JSON object per line, flushed at once so the Python side can stream pairs through one JVM:
//   {"verdict": "compatible" | "incompatible", "incompatibilities": [{type, location, message}]}
//   {"verdict": "error", "error": "<exception class>: <message>"}   (the check itself threw)
//   {"verdict": "parse_error", "error": "..."}                      (a schema did not parse)
// "error" is what Confluent Schema Registry turns into a refusal. Each schema gets its own
// Schema.Parser, as the registry parses each version on its own. Defaults are not validated,
// matching the registry's default (avro.validate.defaults=false) and eventgen's checker, which
// look only at whether a default is present.
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;

public final class AvroCompat {
  private static final ObjectMapper JSON = new ObjectMapper();

  private AvroCompat() {}

  private static Schema parse(JsonNode node) throws Exception {
    Schema.Parser parser = new Schema.Parser();
    parser.setValidateDefaults(false);
    return parser.parse(JSON.writeValueAsString(node));
  }

  private static String describe(Throwable t) {
    return t.getClass().getSimpleName() + ": " + t.getMessage();
  }

  static ObjectNode verdict(JsonNode pair) {
    ObjectNode out = JSON.createObjectNode();
    Schema reader;
    Schema writer;
    try {
      reader = parse(pair.get("reader"));
      writer = parse(pair.get("writer"));
    } catch (Exception | StackOverflowError e) {
      out.put("verdict", "parse_error");
      out.put("error", describe(e));
      return out;
    }
    try {
      SchemaCompatibility.SchemaCompatibilityResult result =
          SchemaCompatibility.checkReaderWriterCompatibility(reader, writer).getResult();
      boolean ok =
          result.getCompatibility() == SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE;
      out.put("verdict", ok ? "compatible" : "incompatible");
      ArrayNode list = out.putArray("incompatibilities");
      for (SchemaCompatibility.Incompatibility i : result.getIncompatibilities()) {
        ObjectNode item = list.addObject();
        item.put("type", i.getType().name());
        item.put("location", i.getLocation());
        item.put("message", i.getMessage());
      }
    } catch (Exception | StackOverflowError e) {
      out.put("verdict", "error");
      out.put("error", describe(e));
    }
    return out;
  }

  public static void main(String[] args) throws Exception {
    PrintStream stdout = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isBlank()) {
        continue;
      }
      ObjectNode out;
      try {
        out = verdict(JSON.readTree(line));
      } catch (Exception e) {
        out = JSON.createObjectNode();
        out.put("verdict", "parse_error");
        out.put("error", describe(e));
      }
      stdout.println(JSON.writeValueAsString(out));
      stdout.flush();
    }
  }
}
