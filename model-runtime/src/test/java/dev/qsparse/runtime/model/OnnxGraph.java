package dev.qsparse.runtime.model;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.DescriptorProtos.DescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto.Label;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto.Type;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.DescriptorValidationException;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.DynamicMessage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parts of an ONNX model file a test needs (its nodes in graph order and its float
 * initializers), parsed by protobuf-java's own wire-format parser. The schema is a subset of
 * onnx.proto's message shapes (field numbers and types as the ONNX specification gives them), built
 * as a descriptor at run time, so no protoc and no generated code are needed; fields left out of
 * the subset are kept by the parser as unknown fields and ignored.
 */
final class OnnxGraph {

    /** A node: its operator, its name (the exporter's module path) and its inputs and outputs. */
    record Node(String opType, String name, List<String> inputs, List<String> outputs) {}

    /** A float initializer: its dims and its values. */
    record Tensor(long[] dims, float[] values) {}

    /** onnx.proto's TensorProto.DataType.FLOAT. */
    private static final int FLOAT = 1;

    final List<Node> nodes = new ArrayList<>();
    final Map<String, Tensor> initializers = new LinkedHashMap<>();

    private OnnxGraph() {}

    static OnnxGraph read(InputStream in) throws IOException {
        Descriptor model = schema();
        Descriptor graphType = model.findFieldByName("graph").getMessageType();
        Descriptor nodeType = graphType.findFieldByName("node").getMessageType();
        Descriptor tensorType = graphType.findFieldByName("initializer").getMessageType();
        CodedInputStream coded = CodedInputStream.newInstance(in);
        coded.setSizeLimit(Integer.MAX_VALUE);
        DynamicMessage m = DynamicMessage.parseFrom(model, coded);
        DynamicMessage graph = (DynamicMessage) m.getField(model.findFieldByName("graph"));
        OnnxGraph g = new OnnxGraph();
        for (Object o : (List<?>) graph.getField(graphType.findFieldByName("node"))) {
            DynamicMessage n = (DynamicMessage) o;
            g.nodes.add(new Node(
                    (String) n.getField(nodeType.findFieldByName("op_type")),
                    (String) n.getField(nodeType.findFieldByName("name")),
                    strings(n.getField(nodeType.findFieldByName("input"))),
                    strings(n.getField(nodeType.findFieldByName("output")))));
        }
        for (Object o : (List<?>) graph.getField(graphType.findFieldByName("initializer"))) {
            DynamicMessage t = (DynamicMessage) o;
            if ((Integer) t.getField(tensorType.findFieldByName("data_type")) != FLOAT) {
                continue;
            }
            List<?> dimList = (List<?>) t.getField(tensorType.findFieldByName("dims"));
            long[] dims = new long[dimList.size()];
            long count = 1;
            for (int i = 0; i < dims.length; i++) {
                dims[i] = (Long) dimList.get(i);
                count *= dims[i];
            }
            ByteString raw = (ByteString) t.getField(tensorType.findFieldByName("raw_data"));
            float[] values = new float[Math.toIntExact(count)];
            if (!raw.isEmpty()) {
                raw.asReadOnlyByteBuffer()
                        .order(ByteOrder.LITTLE_ENDIAN)
                        .asFloatBuffer()
                        .get(values);
            } else {
                List<?> floats = (List<?>) t.getField(tensorType.findFieldByName("float_data"));
                for (int i = 0; i < values.length; i++) {
                    values[i] = (Float) floats.get(i);
                }
            }
            g.initializers.put((String) t.getField(tensorType.findFieldByName("name")), new Tensor(dims, values));
        }
        return g;
    }

    static OnnxGraph read(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return read(in);
        }
    }

    private static List<String> strings(Object field) {
        List<String> out = new ArrayList<>();
        for (Object o : (List<?>) field) {
            out.add((String) o);
        }
        return out;
    }

    /** ModelProto.graph (7); GraphProto.node (1), initializer (5); NodeProto and TensorProto fields as in onnx.proto. */
    private static Descriptor schema() {
        DescriptorProto tensor = message(
                "TensorProto",
                field("dims", 1, Type.TYPE_INT64, Label.LABEL_REPEATED, null),
                field("data_type", 2, Type.TYPE_INT32, Label.LABEL_OPTIONAL, null),
                field("float_data", 4, Type.TYPE_FLOAT, Label.LABEL_REPEATED, null),
                field("name", 8, Type.TYPE_STRING, Label.LABEL_OPTIONAL, null),
                field("raw_data", 9, Type.TYPE_BYTES, Label.LABEL_OPTIONAL, null));
        DescriptorProto node = message(
                "NodeProto",
                field("input", 1, Type.TYPE_STRING, Label.LABEL_REPEATED, null),
                field("output", 2, Type.TYPE_STRING, Label.LABEL_REPEATED, null),
                field("name", 3, Type.TYPE_STRING, Label.LABEL_OPTIONAL, null),
                field("op_type", 4, Type.TYPE_STRING, Label.LABEL_OPTIONAL, null));
        DescriptorProto graph = message(
                "GraphProto",
                field("node", 1, Type.TYPE_MESSAGE, Label.LABEL_REPEATED, ".onnx.NodeProto"),
                field("initializer", 5, Type.TYPE_MESSAGE, Label.LABEL_REPEATED, ".onnx.TensorProto"));
        DescriptorProto model =
                message("ModelProto", field("graph", 7, Type.TYPE_MESSAGE, Label.LABEL_OPTIONAL, ".onnx.GraphProto"));
        FileDescriptorProto file = FileDescriptorProto.newBuilder()
                .setName("onnx_subset.proto")
                .setPackage("onnx")
                .setSyntax("proto2")
                .addMessageType(tensor)
                .addMessageType(node)
                .addMessageType(graph)
                .addMessageType(model)
                .build();
        try {
            return FileDescriptor.buildFrom(file, new FileDescriptor[0]).findMessageTypeByName("ModelProto");
        } catch (DescriptorValidationException e) {
            throw new IllegalStateException(e);
        }
    }

    private static DescriptorProto message(String name, FieldDescriptorProto... fields) {
        DescriptorProto.Builder b = DescriptorProto.newBuilder().setName(name);
        for (FieldDescriptorProto f : fields) {
            b.addField(f);
        }
        return b.build();
    }

    private static FieldDescriptorProto field(String name, int number, Type type, Label label, String typeName) {
        FieldDescriptorProto.Builder f = FieldDescriptorProto.newBuilder()
                .setName(name)
                .setNumber(number)
                .setType(type)
                .setLabel(label);
        if (typeName != null) {
            f.setTypeName(typeName);
        }
        return f.build();
    }

    static ByteBuffer littleEndian(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return b;
    }
}
